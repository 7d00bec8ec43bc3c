"""Sign in and approve a `tm auth login` code on the Control Plane's page, in a Playwright browser page."""

from __future__ import annotations

from typing import Any


def approve_on_page(page: Any, auth_url: str, email: str, password: str) -> str:
    """Open auth_url, sign in, press Approve; returns the result page's title text."""
    page.goto(auth_url)
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#signin")
    page.wait_for_selector("#approve")
    assert page.inner_text("#signed-in-as") == email
    page.click("#approve")
    page.wait_for_selector("#result-title")
    return str(page.inner_text("#result-title"))
