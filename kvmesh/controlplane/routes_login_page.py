"""The browser side of `tm auth login`: sign in (session cookie) and approve or deny a CLI code.

CSRF protection is a signed double-submit token bound to the session: a random nonce lives in the
`kvmesh_csrf` cookie and every form carries HMAC(key, nonce + digest of the signed-in session, if
any); a cross-site form can neither read the cookie nor compute the HMAC, and a token taken from
another session (say, planted with the attacker's own nonce cookie) does not verify in the victim's.
The session cookie is a short-lived signed JWT (HttpOnly, SameSite=Lax).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kvmesh.controlplane import pages
from kvmesh.controlplane.deps import ControlPlaneServices, DbSession, Services
from kvmesh.controlplane.login_codes import CodeState, decide, find_by_user_code, state_of
from kvmesh.controlplane.routes_auth import client_ip
from kvmesh.store.models import CliLoginCode, User, utcnow
from kvmesh.store.passwords import make_password_hasher, verify_password
from kvmesh.store.users import find_user_by_email

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "kvmesh_session"
CSRF_COOKIE = "kvmesh_csrf"
SESSION_TTL_S = 12 * 3600
WEB_TOKEN_TYPE = "web"

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


def _csrf_token(services: ControlPlaneServices, nonce: str, session_binding: str) -> str:
    message = b"csrf:" + nonce.encode() + b":" + session_binding.encode()
    return hmac.new(services.jwt_key, message, hashlib.sha256).hexdigest()


def _session_binding(request: Request, services: ControlPlaneServices, db: Session) -> str:
    """A digest of the session cookie when it signs a user in, else '' (the sign-in form)."""
    if _signed_in_user(request, services, db) is None:
        return ""
    return hashlib.sha256(request.cookies.get(SESSION_COOKIE, "").encode()).hexdigest()


def _csrf_ok(request: Request, services: ControlPlaneServices, db: Session, token: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if not nonce or not token:
        return False
    expected = _csrf_token(services, nonce, _session_binding(request, services, db))
    return hmac.compare_digest(expected, token)


def _secure(services: ControlPlaneServices) -> bool:
    return services.settings.base_url.startswith("https://")


def _html(
    services: ControlPlaneServices, request: Request, render: str | None, status: int = 200
) -> HTMLResponse:
    response = HTMLResponse(render or "", status_code=status, headers={"Cache-Control": "no-store"})
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    )
    return response


def _nonce(request: Request) -> tuple[str, bool]:
    existing = request.cookies.get(CSRF_COOKIE, "")
    return (existing, False) if len(existing) >= 32 else (secrets.token_urlsafe(32), True)


def _with_csrf_cookie(
    response: Response, services: ControlPlaneServices, nonce: str, fresh: bool
) -> Response:
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="lax", secure=_secure(services), path="/"
        )
    return response


def _signed_in_user(request: Request, services: ControlPlaneServices, db: Session) -> User | None:
    raw = request.cookies.get(SESSION_COOKIE, "")
    if not raw:
        return None
    try:
        claims = jwt.decode(raw, services.jwt_key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != WEB_TOKEN_TYPE:
        return None
    user = db.get(User, str(claims["sub"]))
    return user if user is not None and not user.disabled else None


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
    nonce, fresh = _nonce(request)
    csrf = _csrf_token(services, nonce, _session_binding(request, services, db))
    user = _signed_in_user(request, services, db)
    html = (
        pages.approve_page(row.user_code, csrf, user.email)
        if user
        else pages.signin_page(row.user_code, csrf)
    )
    return _with_csrf_cookie(_html(services, request, html), services, nonce, fresh)


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
    if not _csrf_ok(request, services, db, csrf_token):
        return _csrf_failure(services, request)
    row, state = _pending_code(db, code)
    if row is None or state is not CodeState.PENDING:
        return _problem_page(services, request, state)
    csrf = _csrf_token(services, request.cookies[CSRF_COOKIE], _session_binding(request, services, db))
    wait = services.rate_limits.signin.check(client_ip(request))
    if wait:
        html = pages.signin_page(
            row.user_code, csrf, f"Too many sign-in attempts. Try again in {wait}s.", email
        )
        response = _html(services, request, html, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = find_user_by_email(db, email)
    hasher = services.password_hasher or make_password_hasher()
    if user is None or user.disabled or not verify_password(hasher, user.password_hash, password):
        html = pages.signin_page(row.user_code, csrf, "Wrong email or password.", email)
        return _html(services, request, html, 401)
    session_token = jwt.encode(
        {"sub": user.id, "typ": WEB_TOKEN_TYPE, "exp": utcnow() + timedelta(seconds=SESSION_TTL_S)},
        services.jwt_key,
        algorithm="HS256",
    )
    redirect = RedirectResponse(_code_url(row.user_code), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        session_token,
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="lax",
        secure=_secure(services),
        path="/",
    )
    return redirect


@router.post("/cli-login/decision")
def decision(
    request: Request,
    services: Services,
    db: DbSession,
    code: FormField = "",
    decision: FormField = "",
    csrf_token: FormField = "",
) -> Response:
    if not _csrf_ok(request, services, db, csrf_token):
        return _csrf_failure(services, request)
    user = _signed_in_user(request, services, db)
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
    request: Request, services: Services, db: DbSession, code: FormField = "", csrf_token: FormField = ""
) -> Response:
    if not _csrf_ok(request, services, db, csrf_token):
        return _csrf_failure(services, request)
    response = RedirectResponse(_code_url(code), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
