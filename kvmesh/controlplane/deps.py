"""FastAPI dependencies shared by every CP router: DB session, services, the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.ratelimit import RateLimits
from kvmesh.controlplane.settings import ControlPlaneSettings
from kvmesh.controlplane.tokens import TokenError, decode_access_token, family_revoked
from kvmesh.engines.leader import ElectedControllers
from kvmesh.store.models import User
from kvmesh.store.users import ROLE_ADMIN


@dataclass
class ControlPlaneServices:
    """What routes need beyond the request; built once per app in the lifespan."""

    settings: ControlPlaneSettings
    secret: bytes
    session_factory: sessionmaker[Session]
    controller: ElectedControllers | None = None  # the controllers, run only while elected
    jwt_key: bytes = b""
    password_hasher: PasswordHasher | None = None
    rate_limits: RateLimits = field(default_factory=RateLimits)


def get_services(request: Request) -> ControlPlaneServices:
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ApiError(503, "control plane is starting", "starting")
    assert isinstance(services, ControlPlaneServices)
    return services


Services = Annotated[ControlPlaneServices, Depends(get_services)]


def get_db(services: Services) -> Iterator[Session]:
    """One session per request; committed by the route (or rolled back on error), always closed."""
    session = services.session_factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "missing bearer token: sign in with `tm auth login`",
            "missing_token",
            {"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def current_user(request: Request, services: Services, db: DbSession) -> User:
    """Validate `Authorization: Bearer <access JWT>` and return the active user."""
    token = bearer_token(request)
    try:
        claims = decode_access_token(services.jwt_key, token)
    except TokenError as exc:
        raise ApiError(401, str(exc), "invalid_token", {"WWW-Authenticate": "Bearer"}) from None
    if family_revoked(db, claims.family_id):
        raise ApiError(401, "session signed out: run `tm auth login`", "invalid_token")
    user = db.get(User, claims.user_id)
    if user is None or user.disabled:
        raise ApiError(401, "user no longer exists or is disabled", "invalid_token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if user.role != ROLE_ADMIN:
        raise ApiError(403, "this action needs an admin account", "forbidden")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
