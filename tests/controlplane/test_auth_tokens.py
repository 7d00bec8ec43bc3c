"""Access and refresh tokens: rotation, reuse detection, logout revocation, expiry and forgery."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
from login_forms import add_user, approve, start_login

from kvmesh.controlplane.tokens import encode_access_token


def _signed_in(live: Any, client: httpx.Client) -> dict[str, Any]:
    add_user(live)
    started = start_login(client)
    with httpx.Client(base_url=live.base_url) as browser:
        approve(browser, started["auth_url"], "alice@example.com")
    response = client.post("/auth/cli/exchange", json={"cli_code": started["cli_code"]})
    assert response.status_code == 200
    tokens: dict[str, Any] = response.json()
    return tokens


def _profile_status(client: httpx.Client, access_token: str) -> int:
    return client.get("/auth/profile", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_refresh_returns_full_token_object_with_new_refresh_token(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        tokens = _signed_in(live, client)
        refreshed = client.post("/auth/cli/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        body = refreshed.json()
        assert set(body) >= {"access_token", "refresh_token", "token_type", "expires_in"}
        assert body["refresh_token"] != tokens["refresh_token"]
        assert _profile_status(client, body["access_token"]) == 200
        second = client.post("/auth/cli/refresh", json={"refresh_token": body["refresh_token"]})
    assert second.status_code == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        tokens = _signed_in(live, client)
        rotated = client.post("/auth/cli/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
        reuse = client.post("/auth/cli/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reuse.status_code == 401
        assert reuse.json()["error"]["code"] == "invalid_refresh_token"
        newest = client.post("/auth/cli/refresh", json={"refresh_token": rotated["refresh_token"]})
        assert newest.status_code == 401
        assert _profile_status(client, rotated["access_token"]) == 401


def test_logout_with_bearer_revokes_refresh_and_access(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        tokens = _signed_in(live, client)
        out = client.post("/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert out.status_code == 200
        assert (
            client.post("/auth/cli/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
            == 401
        )
        assert _profile_status(client, tokens["access_token"]) == 401


def test_logout_with_refresh_token_in_body(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        tokens = _signed_in(live, client)
        assert client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 200
        assert (
            client.post("/auth/cli/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
            == 401
        )
        assert client.post("/auth/logout").status_code == 401


def test_expired_access_token_is_rejected(control_plane: Any) -> None:
    live = control_plane()
    user_id = add_user(live)
    expired = encode_access_token(live.app.state.services.jwt_key, user_id, "fam", ttl_s=-5)
    with httpx.Client(base_url=live.base_url) as client:
        response = client.get("/auth/profile", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_token_signed_with_another_key_is_rejected(control_plane: Any) -> None:
    live = control_plane()
    user_id = add_user(live)
    forged = jwt.encode({"sub": user_id, "fam": "f", "typ": "access", "exp": 9999999999}, "x" * 32)
    with httpx.Client(base_url=live.base_url) as client:
        assert _profile_status(client, forged) == 401
        assert _profile_status(client, "not-a-jwt") == 401


def test_unknown_refresh_token_is_401(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        response = client.post("/auth/cli/refresh", json={"refresh_token": "tmr_nope"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
