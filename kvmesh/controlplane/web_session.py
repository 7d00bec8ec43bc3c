"""Browser sessions shared by the CLI approve page and the web console: sign-in, session cookie, CSRF.

CSRF protection is a signed double-submit token: a random nonce lives in the `kvmesh_csrf`
cookie and every form carries HMAC(key, nonce); a cross-site form can neither read the cookie
nor compute the HMAC. The session cookie is a short-lived signed JWT (HttpOnly, SameSite=Lax).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kvmesh.controlplane.deps import ControlPlaneServices
from kvmesh.controlplane.routes_auth import client_ip
from kvmesh.store.models import User, utcnow
from kvmesh.store.passwords import make_password_hasher, verify_password
from kvmesh.store.users import find_user_by_email

SESSION_COOKIE = "kvmesh_session"
CSRF_COOKIE = "kvmesh_csrf"
SESSION_TTL_S = 12 * 3600
WEB_TOKEN_TYPE = "web"


def csrf_token(services: ControlPlaneServices, nonce: str) -> str:
    return hmac.new(services.jwt_key, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, services: ControlPlaneServices, token: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    return bool(nonce) and bool(token) and hmac.compare_digest(csrf_token(services, nonce), token)


def secure_cookies(services: ControlPlaneServices) -> bool:
    return services.settings.base_url.startswith("https://")


def csrf_nonce(request: Request) -> tuple[str, bool]:
    """The CSRF nonce of this browser, and whether it is new (then `with_csrf_cookie` must set it)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    return (existing, False) if len(existing) >= 32 else (secrets.token_urlsafe(32), True)


def with_csrf_cookie(response: Response, services: ControlPlaneServices, nonce: str, fresh: bool) -> Response:
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="lax", secure=secure_cookies(services), path="/"
        )
    return response


def signed_in_user(request: Request, services: ControlPlaneServices, db: Session) -> User | None:
    """The user of a valid session cookie (None when absent, expired, forged or the user is disabled)."""
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


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    retry_after_s: int = 0  # > 0: rate limited
    status: int = 200

    @property
    def error(self) -> str:
        if self.retry_after_s:
            return f"Too many sign-in attempts. Try again in {self.retry_after_s}s."
        return "" if self.user is not None else "Wrong email or password."


def check_password(
    request: Request, services: ControlPlaneServices, db: Session, email: str, password: str
) -> SignInResult:
    """Rate-limited email + password check (per client IP)."""
    wait = services.rate_limits.signin.check(client_ip(request))
    if wait:
        return SignInResult(None, retry_after_s=wait, status=429)
    user = find_user_by_email(db, email)
    hasher = services.password_hasher or make_password_hasher()
    if user is None or user.disabled or not verify_password(hasher, user.password_hash, password):
        return SignInResult(None, status=401)
    return SignInResult(user)


def start_session(response: Response, services: ControlPlaneServices, user: User) -> Response:
    """Set the signed session cookie for `user` on `response`."""
    token = jwt.encode(
        {"sub": user.id, "typ": WEB_TOKEN_TYPE, "exp": utcnow() + timedelta(seconds=SESSION_TTL_S)},
        services.jwt_key,
        algorithm="HS256",
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(services),
        path="/",
    )
    return response


def end_session(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
