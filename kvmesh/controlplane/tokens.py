"""Access and refresh tokens: HS256 JWT access tokens and rotating, hashed refresh tokens.

Refresh tokens form families (one per sign-in). Each refresh marks the presented token used and
issues a new one in the same family; presenting a used token again means it leaked, so the whole
family is revoked. Access tokens carry their family id (`fam`), so logging out (revoking the
family) also ends the access tokens issued from it.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kvmesh.store.key_rotation import JWT_KEY_ENV
from kvmesh.store.key_rotation import JWT_KEY_FILE as JWT_KEY_FILE
from kvmesh.store.models import RefreshToken, User, utcnow
from kvmesh.store.private_files import write_secret_file
from kvmesh.store.secrets import sha256_hex

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
ISSUER = "kvmesh-controlplane"


class TokenError(Exception):
    """A token that does not authenticate; the message is safe to show the client."""


class RefreshReuseError(TokenError):
    """A used refresh token was presented again; its family has been revoked (caller must commit)."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    family_id: str


@dataclass(frozen=True)
class TokenLifetimes:
    access_s: int
    refresh_s: int


def load_jwt_key(key_file: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The HS256 signing key: `KVMESH_JWT_SIGNING_KEY` if set, else `key_file` (created 0600 on first use).

    The key lives beside the server secret, never in the database: anyone who can read the database
    (a backup, a read-only SQL user) must not be able to mint tokens. Several Control Planes on one
    store share it through the env var or a copy of the file.
    """
    source = os.environ if env is None else env
    raw = source.get(JWT_KEY_ENV, "").strip()
    if not raw:
        try:
            raw = key_file.read_text().strip()
        except FileNotFoundError:
            raw = ""
        if not raw:
            raw = secrets.token_urlsafe(48)
            write_secret_file(key_file, raw + "\n")
    if len(raw) < 32:
        raise ValueError(f"JWT signing key ({JWT_KEY_ENV} / {key_file}) must be at least 32 characters")
    return raw.encode()


def encode_access_token(key: bytes, user_id: str, family_id: str, ttl_s: int) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": user_id,
        "fam": family_id,
        "typ": ACCESS_TOKEN_TYPE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def decode_access_token(key: bytes, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token, key, algorithms=[JWT_ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "fam"]}
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("access token expired: run `tm auth refresh` or `tm auth login`") from None
    except jwt.PyJWTError:
        raise TokenError("invalid access token: run `tm auth login`") from None
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise TokenError("invalid access token: run `tm auth login`")
    return AccessClaims(user_id=str(claims["sub"]), family_id=str(claims["fam"]))


def family_revoked(session: Session, family_id: str) -> bool:
    hit = session.scalar(
        select(RefreshToken.id)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
        .limit(1)
    )
    return hit is not None


def _token_object(
    key: bytes, user_id: str, family_id: str, lifetimes: TokenLifetimes, refresh: str
) -> dict[str, Any]:
    return {
        "access_token": encode_access_token(key, user_id, family_id, lifetimes.access_s),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": lifetimes.access_s,
        "refresh_expires_in": lifetimes.refresh_s,
    }


def _new_refresh_token(session: Session, user_id: str, family_id: str, lifetimes: TokenLifetimes) -> str:
    refresh = "tmr_" + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user_id,
            token_hash=sha256_hex(refresh),
            family_id=family_id,
            expires_at=utcnow() + timedelta(seconds=lifetimes.refresh_s),
        )
    )
    session.flush()
    return refresh


def issue_tokens(session: Session, key: bytes, user: User, lifetimes: TokenLifetimes) -> dict[str, Any]:
    """Start a new refresh family for `user`; returns the wire token object (caller commits)."""
    family_id = str(uuid.uuid4())
    refresh = _new_refresh_token(session, user.id, family_id, lifetimes)
    return _token_object(key, user.id, family_id, lifetimes, refresh)


def revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.flush()


def find_refresh_token(session: Session, refresh: str) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(refresh)))


def rotate_refresh_token(
    session: Session, key: bytes, refresh: str, lifetimes: TokenLifetimes
) -> dict[str, Any]:
    """Spend `refresh` and return a fresh token object in the same family.

    Raises TokenError for unknown/expired/revoked tokens and RefreshReuseError (after revoking the
    family) when the token was already used. The use is claimed with a conditional UPDATE, so two
    concurrent refreshes of one token cannot both succeed.
    """
    row = find_refresh_token(session, refresh)
    if row is None:
        raise TokenError("invalid refresh token: run `tm auth login`")
    if row.revoked_at is not None:
        raise TokenError("refresh token revoked: run `tm auth login`")
    if row.used_at is not None:
        revoke_family(session, row.family_id)
        raise RefreshReuseError("refresh token already used; all sessions from that sign-in were revoked")
    if row.expires_at <= utcnow():
        raise TokenError("refresh token expired: run `tm auth login`")
    claimed = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        revoke_family(session, row.family_id)
        raise RefreshReuseError("refresh token already used; all sessions from that sign-in were revoked")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise TokenError("user no longer exists or is disabled")
    new_refresh = _new_refresh_token(session, user.id, row.family_id, lifetimes)
    return _token_object(key, user.id, row.family_id, lifetimes, new_refresh)
