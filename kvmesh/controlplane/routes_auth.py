"""Auth API for the CLI: login start/exchange, token refresh, logout and the caller's profile."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kvmesh.controlplane.client_address import request_client_ip
from kvmesh.controlplane.deps import CurrentUser, DbSession, Services, bearer_token
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.login_codes import CodeState, consume, find_by_cli_code, start_login, state_of
from kvmesh.controlplane.tokens import (
    TokenError,
    TokenLifetimes,
    decode_access_token,
    find_refresh_token,
    issue_tokens,
    revoke_family,
    rotate_refresh_token,
)
from kvmesh.store.models import User

router = APIRouter(tags=["auth"])


class ExchangeRequest(BaseModel):
    cli_code: str = Field(min_length=1, max_length=200)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=500)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=500)


def client_ip(request: Request) -> str:
    """The address per-IP limits count (X-Forwarded-For only from trusted proxies)."""
    return request_client_ip(request)


def lifetimes_of(services: Any) -> TokenLifetimes:
    return TokenLifetimes(services.settings.access_token_ttl_s, services.settings.refresh_token_ttl_s)


def _rate_limited(wait_s: int, what: str) -> ApiError:
    return ApiError(429, f"too many {what}; retry in {wait_s}s", "rate_limited", {"Retry-After": str(wait_s)})


@router.post("/auth/cli/start")
def cli_start(request: Request, services: Services, db: DbSession) -> dict[str, Any]:
    """Begin a browser sign-in for the CLI: returns the page to open and the code to poll with."""
    wait = services.rate_limits.login_start.check(client_ip(request))
    if wait:
        raise _rate_limited(wait, "login attempts from this address")
    started = start_login(db, client_ip(request), services.settings.login_code_ttl_s)
    db.commit()
    return {
        "auth_url": f"{services.settings.base_url}/cli-login?code={started.user_code}",
        "cli_code": started.cli_code,
        "user_code": started.user_code,
        "interval": services.settings.login_poll_interval_s,
        "expires_in": started.expires_in,
    }


@router.post("/auth/cli/exchange", responses={202: {"description": "Not approved yet; poll again"}})
def cli_exchange(request: Request, body: ExchangeRequest, services: Services, db: DbSession) -> Any:
    """202 while the code waits for approval; 200 with tokens exactly once after approval."""
    row = find_by_cli_code(db, body.cli_code)
    wait = services.rate_limits.exchange.check(row.id if row else "unknown-from:" + client_ip(request))
    if wait:
        raise _rate_limited(wait, "polls for this login code")
    state = state_of(row)
    if state is CodeState.PENDING:
        return JSONResponse({"status": "authorization_pending"}, status_code=202)
    if state is CodeState.UNKNOWN:
        raise ApiError(400, "unknown login code: run `tm auth login` again", "invalid_code")
    if state is CodeState.EXPIRED:
        raise ApiError(400, "login code expired: run `tm auth login` again", "expired_code")
    if state is CodeState.DENIED:
        raise ApiError(403, "login was denied in the browser", "access_denied")
    if state is CodeState.CONSUMED:
        raise ApiError(400, "login code already used: run `tm auth login` again", "code_already_used")
    assert row is not None and row.user_id is not None
    user = db.get(User, row.user_id)
    if user is None or user.disabled or not consume(db, row):
        raise ApiError(400, "login code already used: run `tm auth login` again", "code_already_used")
    tokens = issue_tokens(db, services.jwt_key, user, lifetimes_of(services))
    db.commit()
    return tokens


@router.post("/auth/cli/refresh")
def cli_refresh(body: RefreshRequest, services: Services, db: DbSession) -> dict[str, Any]:
    """Rotate a refresh token: a full token object with a new refresh_token; reuse revokes the family."""
    try:
        tokens = rotate_refresh_token(db, services.jwt_key, body.refresh_token, lifetimes_of(services))
    except TokenError as exc:
        db.commit()
        raise ApiError(401, str(exc), "invalid_refresh_token") from None
    db.commit()
    return tokens


@router.post("/auth/logout")
def logout(
    request: Request, services: Services, db: DbSession, body: LogoutRequest | None = None
) -> dict[str, Any]:
    """Revoke the sign-in (refresh family) named by the body's refresh_token or the Bearer access token."""
    family_id: str | None = None
    if body is not None and body.refresh_token:
        row = find_refresh_token(db, body.refresh_token)
        if row is None:
            raise ApiError(401, "invalid refresh token", "invalid_refresh_token")
        family_id = row.family_id
    else:
        try:
            family_id = decode_access_token(services.jwt_key, bearer_token(request)).family_id
        except TokenError as exc:
            raise ApiError(401, str(exc), "invalid_token") from None
    revoke_family(db, family_id)
    db.commit()
    return {}


def profile_of(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "userEmail": user.email,
        "displayName": user.display_name,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "userRole": user.role,
        "company": user.company,
        "authProvider": "local",
        "createdAt": user.created_at.isoformat().replace("+00:00", "Z"),
    }


@router.get("/auth/profile")
def profile(user: CurrentUser) -> dict[str, Any]:
    return {"user": profile_of(user)}
