"""The approve page: CSRF protection, cookie flags, friendly errors, and the real flow in Chromium."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from login_forms import PASSWORD, add_user, approve_in_browser, csrf_from, start_login


def test_signin_without_valid_csrf_token_is_rejected(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as browser:
        started = start_login(browser)
        page = browser.get(started["auth_url"])
        form = {"code": started["user_code"], "email": "alice@example.com", "password": PASSWORD}
        forged = browser.post("/cli-login/signin", data={**form, "csrf_token": "0" * 64})
        missing = browser.post("/cli-login/signin", data=form)
        assert forged.status_code == 403 and "Request rejected" in forged.text
        assert missing.status_code == 403
    with httpx.Client(base_url=live.base_url) as attacker:
        cross_site = attacker.post("/cli-login/signin", data={**form, "csrf_token": csrf_from(page.text)})
    assert cross_site.status_code == 403
    assert "kvmesh_session" not in cross_site.cookies


def test_decision_without_csrf_token_does_not_approve(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as browser:
        started = start_login(browser)
        page = browser.get(started["auth_url"])
        browser.post(
            "/cli-login/signin",
            data={
                "csrf_token": csrf_from(page.text),
                "code": started["user_code"],
                "email": "alice@example.com",
                "password": PASSWORD,
            },
        )
        rejected = browser.post(
            "/cli-login/decision", data={"code": started["user_code"], "decision": "approve"}
        )
        assert rejected.status_code == 403
        poll = browser.post("/auth/cli/exchange", json={"cli_code": started["cli_code"]})
    assert poll.status_code == 202


def test_session_and_csrf_cookies_are_httponly_and_samesite_lax(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as browser:
        started = start_login(browser)
        page = browser.get(started["auth_url"])
        signin = browser.post(
            "/cli-login/signin",
            data={
                "csrf_token": csrf_from(page.text),
                "code": started["user_code"],
                "email": "alice@example.com",
                "password": PASSWORD,
            },
        )
    assert signin.status_code == 303
    for header in (page.headers["set-cookie"], signin.headers["set-cookie"]):
        assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header


def test_wrong_password_shows_error_and_sets_no_session(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as browser:
        started = start_login(browser)
        page = browser.get(started["auth_url"])
        response = browser.post(
            "/cli-login/signin",
            data={
                "csrf_token": csrf_from(page.text),
                "code": started["user_code"],
                "email": "alice@example.com",
                "password": "wrong password",
            },
        )
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert "kvmesh_session" not in response.headers.get("set-cookie", "")


def test_unknown_or_missing_code_gets_a_friendly_page(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as browser:
        unknown = browser.get("/cli-login?code=ZZZZ-ZZZZ")
        missing = browser.get("/cli-login")
        hostile = browser.get("/cli-login", params={"code": "<script>alert(1)</script>"})
    assert unknown.status_code == 404 and "Unknown login code" in unknown.text
    assert unknown.headers["content-type"].startswith("text/html")
    assert missing.status_code == 404
    assert "<script>" not in hostile.text


def test_page_shows_the_code_and_a_signin_form(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as browser:
        started = start_login(browser)
        page = browser.get(started["auth_url"])
    assert started["user_code"] in page.text
    assert "type=password" in page.text and "<script" not in page.text
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_login_end_to_end_in_headless_chromium(control_plane: Any, chromium: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as cli:
        started = start_login(cli)
        first = cli.post("/auth/cli/exchange", json={"cli_code": started["cli_code"]})
        assert first.status_code == 202
        title = approve_in_browser(chromium, started["auth_url"], "alice@example.com")
        assert title == "CLI login approved"
        statuses = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            response = cli.post("/auth/cli/exchange", json={"cli_code": started["cli_code"]})
            statuses.append(response.status_code)
            if response.status_code != 202:
                break
            time.sleep(started["interval"])
        assert statuses[-1] == 200
        tokens = response.json()
        again = cli.post("/auth/cli/exchange", json={"cli_code": started["cli_code"]})
        assert again.status_code == 400
        whoami = cli.get("/auth/profile", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert whoami.json()["user"]["userEmail"] == "alice@example.com"


def test_password_guessing_is_rate_limited_per_address(control_plane: Any) -> None:
    live = control_plane(signin_limit_per_minute=2)
    add_user(live)
    with httpx.Client(base_url=live.base_url) as browser:
        started = start_login(browser)
        page = browser.get(started["auth_url"])
        form = {
            "csrf_token": csrf_from(page.text),
            "code": started["user_code"],
            "email": "alice@example.com",
        }
        guesses = [
            browser.post("/cli-login/signin", data={**form, "password": f"guess-{n}"}) for n in range(2)
        ]
        limited = browser.post("/cli-login/signin", data={**form, "password": PASSWORD})
    assert [g.status_code for g in guesses] == [401, 401]
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
    assert int(limited.headers["Retry-After"]) >= 1
    assert "kvmesh_session" not in limited.headers.get("set-cookie", "")
