"""Console sign-in, sign-out and static files (the session is the approve page's, `web_session`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from kvmesh.controlplane.console.rendering import HERE, TEMPLATES, html_response
from kvmesh.controlplane.deps import DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.web_session import (
    check_password,
    csrf_nonce,
    csrf_ok,
    csrf_token,
    end_session,
    signed_in_user,
    start_session,
)

router = APIRouter()
FormField = Annotated[str, Form()]
STATIC = {
    "uPlot.iife.min.js": "text/javascript",
    "uPlot.min.css": "text/css",
    "console.js": "text/javascript",
    "console.css": "text/css",
}


def safe_next(target: str) -> str:
    """Only a path inside the console (never another site, never `//host`)."""
    if target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _signin_page(
    request: Request, services: Services, next_url: str, error: str = "", email: str = "", status: int = 200
) -> Response:
    nonce, fresh = csrf_nonce(request)
    html = TEMPLATES.get_template("signin.html").render(
        csrf=csrf_token(services, nonce), next=safe_next(next_url), error=error, email=email
    )
    return html_response(services, html, status, nonce, fresh)


@router.get("/signin")
def signin_form(request: Request, services: Services, db: DbSession, next: str = "/console") -> Response:
    if signed_in_user(request, services, db) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _signin_page(request, services, next)


@router.post("/signin")
def signin(
    request: Request,
    services: Services,
    db: DbSession,
    email: FormField = "",
    password: FormField = "",
    next: FormField = "/console",
    csrf_token: FormField = "",
) -> Response:
    if not csrf_ok(request, services, csrf_token):
        message = "The form expired or came from another site. Try again."
        return _signin_page(request, services, next, message, email, 403)
    result = check_password(request, services, db, email, password)
    if result.user is None:
        response = _signin_page(request, services, next, result.error, email, result.status)
        if result.retry_after_s:
            response.headers["Retry-After"] = str(result.retry_after_s)
        return response
    return start_session(RedirectResponse(safe_next(next), status_code=303), services, result.user)


@router.post("/logout")
def logout(request: Request, services: Services, csrf_token: FormField = "") -> Response:
    if not csrf_ok(request, services, csrf_token):
        raise ApiError(403, "the sign-out form expired or came from another site", "csrf_failed")
    return end_session(RedirectResponse("/console/signin", status_code=303))


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    if name not in STATIC:
        raise ApiError(404, f"no such console file: {name}", "not_found")
    path: Path = HERE / "static" / name
    return FileResponse(path, media_type=STATIC[name], headers={"Cache-Control": "public, max-age=3600"})
