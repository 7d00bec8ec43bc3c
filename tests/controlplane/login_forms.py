"""Drive the CLI approve page: plain HTTP form posts (what a no-JS browser does) or headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx
from approve_page import approve_on_page

from kvmesh.store.passwords import make_password_hasher
from kvmesh.store.users import create_user

PASSWORD = "correct horse battery"


def add_user(live: Any, email: str = "alice@example.com", password: str = PASSWORD) -> str:
    """Create an account in the running CP's database; returns the user id."""
    services = live.app.state.services
    with services.session_factory() as session:
        user, _ = create_user(session, services.secret, email, password, hasher=make_password_hasher(1, 8192))
        session.commit()
        return user.id


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def start_login(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/auth/cli/start")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def approve(
    browser: httpx.Client, auth_url: str, email: str, password: str = PASSWORD, decision: str = "approve"
) -> httpx.Response:
    """Sign in on the page behind `auth_url` and press Approve (or Deny); returns the result page."""
    page = browser.get(auth_url)
    assert page.status_code == 200, page.text
    code = re.search(r'name="code" value="([^"]+)"', page.text)
    assert code
    signed_in = browser.post(
        "/cli-login/signin",
        data={
            "csrf_token": csrf_from(page.text),
            "code": code.group(1),
            "email": email,
            "password": password,
        },
        follow_redirects=True,
    )
    assert signed_in.status_code == 200, signed_in.text
    return browser.post(
        "/cli-login/decision",
        data={"csrf_token": csrf_from(signed_in.text), "code": code.group(1), "decision": decision},
    )


def approve_in_browser(chromium: Any, auth_url: str, email: str, password: str = PASSWORD) -> str:
    """Open auth_url, sign in, press Approve; returns the result page's title text."""
    page = chromium.new_page()
    try:
        return approve_on_page(page, auth_url, email, password)
    finally:
        page.close()
