"""The approve page's CSRF token is bound to the signed-in session, not only to the CSRF cookie."""

from __future__ import annotations

import re
from typing import Any

import httpx
from login_forms import PASSWORD, add_user, csrf_from, start_login

from kvmesh.controlplane.routes_login_page import CSRF_COOKIE


def _signed_in_page(live: Any, browser: httpx.Client, auth_url: str, email: str) -> str:
    page = browser.get(auth_url)
    code = re.search(r'name="code" value="([^"]+)"', page.text)
    assert code
    data = {"csrf_token": csrf_from(page.text), "code": code.group(1), "email": email, "password": PASSWORD}
    signed_in = browser.post("/cli-login/signin", data=data, follow_redirects=True)
    assert signed_in.status_code == 200 and "Approve" in signed_in.text
    return signed_in.text


def test_a_token_from_another_session_is_rejected_even_with_its_nonce_planted(control_plane: Any) -> None:
    """Cookie tossing: the attacker plants their own CSRF nonce in the victim's browser and submits
    their own valid token, trying to make the victim approve the attacker's CLI login."""
    live = control_plane()
    add_user(live, "mallory@example.com")
    add_user(live, "victim@example.com")
    with httpx.Client(base_url=live.base_url) as cli, httpx.Client(base_url=live.base_url) as attacker:
        started = start_login(cli)
        code = re.search(r"code=([^&]+)", started["auth_url"])
        assert code
        attacker_page = _signed_in_page(live, attacker, started["auth_url"], "mallory@example.com")
        attacker_token, attacker_nonce = csrf_from(attacker_page), attacker.cookies[CSRF_COOKIE]
        with httpx.Client(base_url=live.base_url) as victim:
            _signed_in_page(live, victim, start_login(cli)["auth_url"], "victim@example.com")
            victim.cookies.set(CSRF_COOKIE, attacker_nonce)
            forged = victim.post(
                "/cli-login/decision",
                data={"csrf_token": attacker_token, "code": code.group(1), "decision": "approve"},
            )
        assert forged.status_code == 403
        # the attacker's own token still works in the attacker's own session
        own = attacker.post(
            "/cli-login/decision",
            data={"csrf_token": attacker_token, "code": code.group(1), "decision": "deny"},
        )
        assert own.status_code == 200


def test_the_sign_in_forms_token_does_not_approve_after_sign_in(control_plane: Any) -> None:
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as cli, httpx.Client(base_url=live.base_url) as browser:
        started = start_login(cli)
        pre_sign_in_token = csrf_from(browser.get(started["auth_url"]).text)
        _signed_in_page(live, browser, started["auth_url"], "alice@example.com")
        code = re.search(r"code=([^&]+)", started["auth_url"])
        assert code
        stale = browser.post(
            "/cli-login/decision",
            data={"csrf_token": pre_sign_in_token, "code": code.group(1), "decision": "approve"},
        )
        assert stale.status_code == 403
