"""CLI login flow over HTTP: start, 202 while pending, tokens exactly once, expiry, denial, rate limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from login_forms import add_user, approve, start_login
from sqlalchemy import update

from kvmesh.store.models import CliLoginCode, utcnow


def _exchange(client: httpx.Client, cli_code: str) -> httpx.Response:
    return client.post("/auth/cli/exchange", json={"cli_code": cli_code})


def test_start_returns_page_url_code_interval_and_expiry(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        body = start_login(client)
    assert body["auth_url"] == f"{live.base_url}/cli-login?code={body['user_code']}"
    assert len(body["cli_code"]) >= 40
    assert body["interval"] == 1
    assert body["expires_in"] == 600


def test_exchange_is_pending_until_approved_then_pays_out_once(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as cli, httpx.Client(base_url=live.base_url) as browser:
        started = start_login(cli)
        pending = _exchange(cli, started["cli_code"])
        assert pending.status_code == 202
        result = approve(browser, started["auth_url"], "alice@example.com")
        assert result.status_code == 200 and "CLI login approved" in result.text
        granted = _exchange(cli, started["cli_code"])
        assert granted.status_code == 200
        tokens = granted.json()
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
        assert tokens["access_token"] and tokens["refresh_token"]
        again = _exchange(cli, started["cli_code"])
        assert again.status_code == 400
        assert again.json()["error"]["code"] == "code_already_used"
        profile = cli.get("/auth/profile", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert profile.status_code == 200
    user = profile.json()["user"]
    assert user["userEmail"] == "alice@example.com"
    assert user["authProvider"] == "local" and user["userRole"] == "USER_ROLE_USER"
    assert set(user) >= {"id", "displayName", "firstName", "lastName", "company", "createdAt"}


def test_unknown_code_is_rejected_with_error_body(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        response = _exchange(client, "no-such-code")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "unknown login code: run `tm auth login` again",
        "type": "invalid_request_error",
        "code": "invalid_code",
    }


def test_expired_code_cannot_be_exchanged_or_approved(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as client:
        started = start_login(client)
        with live.app.state.services.session_factory() as session:
            session.execute(update(CliLoginCode).values(expires_at=utcnow() - timedelta(seconds=1)))
            session.commit()
        response = _exchange(client, started["cli_code"])
        page = client.get(started["auth_url"])
    assert response.status_code == 400 and response.json()["error"]["code"] == "expired_code"
    assert page.status_code == 410 and "expired" in page.text


def test_denied_login_is_refused_on_exchange(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as cli, httpx.Client(base_url=live.base_url) as browser:
        started = start_login(cli)
        result = approve(browser, started["auth_url"], "alice@example.com", decision="deny")
        assert "CLI login denied" in result.text
        response = _exchange(cli, started["cli_code"])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "access_denied"


def test_start_is_rate_limited_per_client_address(control_plane: Any) -> None:
    live = control_plane(login_start_limit_per_minute=3)
    with httpx.Client(base_url=live.base_url) as client:
        statuses = [client.post("/auth/cli/start").status_code for _ in range(3)]
        limited = client.post("/auth/cli/start")
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_error"


def test_exchange_polling_too_fast_gets_429_with_retry_after(control_plane: Any) -> None:
    live = control_plane(login_poll_interval_s=5)
    with httpx.Client(base_url=live.base_url) as client:
        started = start_login(client)
        statuses = [_exchange(client, started["cli_code"]).status_code for _ in range(6)]
        limited = _exchange(client, started["cli_code"])
    assert statuses[:5] == [202] * 5
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 5
