"""The browser side of `tm auth login`: sign in (session cookie) and approve or deny a CLI code.

Sessions and CSRF tokens are `web_session`'s, shared with the web console at /console.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kvmesh.controlplane import activities, pages
from kvmesh.controlplane.activities import record_activity
from kvmesh.controlplane.deps import ControlPlaneServices, DbSession, Services
from kvmesh.controlplane.login_codes import CodeState, decide, find_by_user_code, state_of
from kvmesh.controlplane.web_session import (
    CSRF_COOKIE,
    check_password,
    csrf_nonce,
    csrf_ok,
    end_session,
    signed_in_user,
    start_session,
    with_csrf_cookie,
)
from kvmesh.controlplane.web_session import (
    csrf_token as make_csrf_token,
)
from kvmesh.store.models import CliLoginCode

router = APIRouter(include_in_schema=False)


_CODE_PROBLEMS: dict[CodeState, tuple[int, str, str]] = {
    CodeState.UNKNOWN: (
        404,
        "Unknown login code",
        "This login link is not valid. Run `tm auth login` again.",
    ),
    CodeState.EXPIRED: (410, "Login code expired", "This login request expired. Run `tm auth login` again."),
    CodeState.APPROVED: (
        409,
        "Already approved",
        "This login was already approved; return to your terminal.",
    ),
    CodeState.CONSUMED: (409, "Already used", "This login was already completed; return to your terminal."),
    CodeState.DENIED: (409, "Login denied", "This login request was denied. Run `tm auth login` again."),
}

FormField = Annotated[str, Form()]


def _code_url(code: str) -> str:
    return "/cli-login?" + urlencode({"code": code})


def _html(
    services: ControlPlaneServices, request: Request, render: str | None, status: int = 200
) -> HTMLResponse:
    response = HTMLResponse(render or "", status_code=status, headers={"Cache-Control": "no-store"})
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    )
    return response


def _problem_page(services: ControlPlaneServices, request: Request, state: CodeState) -> HTMLResponse:
    status, title, message = _CODE_PROBLEMS[state]
    return _html(services, request, pages.result_page(title, message, ok=False), status)


def _pending_code(db: Session, code: str) -> tuple[CliLoginCode | None, CodeState]:
    row = find_by_user_code(db, code) if code else None
    return row, state_of(row)


def _render_code_page(request: Request, services: ControlPlaneServices, db: Session, code: str) -> Response:
    row, state = _pending_code(db, code)
    if row is None or state is not CodeState.PENDING:
        return _problem_page(services, request, state)
    nonce, fresh = csrf_nonce(request)
    csrf = make_csrf_token(services, nonce)
    user = signed_in_user(request, services, db)
    html = (
        pages.approve_page(row.user_code, csrf, user.email)
        if user
        else pages.signin_page(row.user_code, csrf)
    )
    return with_csrf_cookie(_html(services, request, html), services, nonce, fresh)


@router.get("/cli-login")
def login_page(request: Request, services: Services, db: DbSession, code: str = "") -> Response:
    """Show the sign-in form or the approve/deny page for a CLI login code."""
    return _render_code_page(request, services, db, code)


def _csrf_failure(services: ControlPlaneServices, request: Request) -> HTMLResponse:
    message = "The form expired or came from another site. Reload the login link and try again."
    return _html(services, request, pages.result_page("Request rejected", message, ok=False), 403)


@router.post("/cli-login/signin")
def signin(
    request: Request,
    services: Services,
    db: DbSession,
    code: FormField = "",
    email: FormField = "",
    password: FormField = "",
    csrf_token: FormField = "",
) -> Response:
    if not csrf_ok(request, services, csrf_token):
        return _csrf_failure(services, request)
    row, state = _pending_code(db, code)
    if row is None or state is not CodeState.PENDING:
        return _problem_page(services, request, state)
    csrf = make_csrf_token(services, request.cookies[CSRF_COOKIE])
    result = check_password(request, services, db, email, password)
    if result.user is None:
        response = _html(
            services, request, pages.signin_page(row.user_code, csrf, result.error, email), result.status
        )
        if result.retry_after_s:
            response.headers["Retry-After"] = str(result.retry_after_s)
        return response
    return start_session(RedirectResponse(_code_url(row.user_code), status_code=303), services, result.user)


@router.post("/cli-login/decision")
def decision(
    request: Request,
    services: Services,
    db: DbSession,
    code: FormField = "",
    decision: FormField = "",
    csrf_token: FormField = "",
) -> Response:
    if not csrf_ok(request, services, csrf_token):
        return _csrf_failure(services, request)
    user = signed_in_user(request, services, db)
    if user is None:
        return RedirectResponse(_code_url(code), status_code=303)
    row, state = _pending_code(db, code)
    if row is None or state is not CodeState.PENDING:
        return _problem_page(services, request, state)
    if decision not in ("approve", "deny"):
        html = pages.result_page("Unknown choice", "Choose Approve or Deny.", ok=False)
        return _html(services, request, html, 400)
    approve = decision == "approve"
    if not decide(db, row, user.id, approve):
        db.rollback()
        return _problem_page(services, request, state_of(find_by_user_code(db, code)))
    if approve:
        record_activity(
            db,
            user_id=user.id,
            action=activities.SIGNED_IN,
            actor=user,
            resource_type=activities.RESOURCE_USER,
            resource_id=user.id,
            description="approved a CLI sign-in",
            details={"clientIp": row.client_ip},
        )
    db.commit()
    if approve:
        html = pages.result_page(
            "CLI login approved", "You can close this tab and return to your terminal.", ok=True
        )
    else:
        html = pages.result_page("CLI login denied", "The terminal will not be signed in.", ok=True)
    return _html(services, request, html)


@router.post("/cli-login/signout")
def signout(
    request: Request, services: Services, code: FormField = "", csrf_token: FormField = ""
) -> Response:
    if not csrf_ok(request, services, csrf_token):
        return _csrf_failure(services, request)
    return end_session(RedirectResponse(_code_url(code), status_code=303))
