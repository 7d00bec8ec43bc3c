"""Console page plumbing: the signed-in context of a request, CSRF checks, templates and HTML errors.

Pages are Jinja2 templates (autoescaped) under `templates/`; the only scripts are the vendored
uPlot chart library and `console.js`, served from /console/static, so the Content-Security-Policy
allows scripts from this origin only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from kvmesh import __version__
from kvmesh.controlplane.access import is_admin
from kvmesh.controlplane.deps import ControlPlaneServices, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.money import micros_to_decimal
from kvmesh.controlplane.web_session import csrf_nonce, csrf_ok, csrf_token, signed_in_user, with_csrf_cookie
from kvmesh.store.models import User

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def usd(micros: int) -> str:
    """Micro-dollars as `$1.25` (at least two decimals, exact)."""
    text = micros_to_decimal(int(micros))
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    return f"{sign}${whole}.{fraction.ljust(2, '0')}"


def percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usd"] = usd
    env.filters["percent"] = percent
    env.filters["thousands"] = lambda value: f"{int(value):,}"
    return env


TEMPLATES = _environment()


@dataclass
class Console:
    """A signed-in console request: who, their CSRF token, and the store session."""

    request: Request
    services: ControlPlaneServices
    db: Session
    user: User
    csrf: str
    nonce: str
    fresh_nonce: bool

    @property
    def admin(self) -> bool:
        return is_admin(self.user)

    def check_csrf(self, token: str) -> None:
        if not csrf_ok(self.request, self.services, token):
            raise ApiError(403, "The form expired or came from another site. Reload the page and try again.")

    def require_admin(self) -> None:
        if not self.admin:
            raise ApiError(403, "This page needs an admin account.")

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        html = TEMPLATES.get_template(template).render(
            user=self.user,
            admin=self.admin,
            csrf=self.csrf,
            path=self.request.url.path,
            version=__version__,
            **context,
        )
        return html_response(self.services, html, status, self.nonce, self.fresh_nonce)


def html_response(
    services: ControlPlaneServices, html: str, status: int = 200, nonce: str = "", fresh: bool = False
) -> Response:
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return with_csrf_cookie(response, services, nonce, fresh) if nonce else response


def signin_location(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/console/signin?next=" + quote(target, safe="")


def console_context(request: Request, services: Services, db: DbSession) -> Console:
    """The signed-in user's context; a signed-out browser is sent to the sign-in page (303)."""
    user = signed_in_user(request, services, db)
    if user is None:
        raise ApiError(303, "sign in first", "signin_required", {"Location": signin_location(request)})
    nonce, fresh = csrf_nonce(request)
    return Console(request, services, db, user, csrf_token(services, nonce), nonce, fresh)


ConsoleCtx = Annotated[Console, Depends(console_context)]

F = TypeVar("F", bound=Callable[..., Any])


def html_errors(route: F) -> F:
    """Render an `ApiError` raised by a console route as an HTML page with its status (not JSON)."""

    def render(console: Console, exc: ApiError) -> Response:
        if exc.status in (301, 302, 303, 307):
            return Response(status_code=exc.status, headers=exc.headers)
        console.db.rollback()
        return console.page("error.html", status=exc.status, status_code=exc.status, message=exc.message)

    if inspect.iscoroutinefunction(route):

        @functools.wraps(route)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await route(*args, **kwargs)
            except ApiError as exc:
                return render(kwargs["console"], exc)

        return run_async  # type: ignore[return-value]

    @functools.wraps(route)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return route(*args, **kwargs)
        except ApiError as exc:
            return render(kwargs["console"], exc)

    return run  # type: ignore[return-value]
