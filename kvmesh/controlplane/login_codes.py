"""CLI login codes: created by `/auth/cli/start`, approved on the web page, exchanged once for tokens.

The CLI holds `cli_code` (secret, stored as SHA-256); the browser page shows `user_code`, a short
code that identifies the request in the approve URL. A code is `pending` until the signed-in user
approves or denies it; an approved code is exchanged for tokens exactly once (`consumed`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kvmesh.store.models import CliLoginCode, utcnow
from kvmesh.store.secrets import sha256_hex

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"


class CodeState(Enum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CONSUMED = "consumed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StartedLogin:
    cli_code: str
    user_code: str
    expires_in: int


def new_user_code() -> str:
    chars = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def normalize_user_code(raw: str) -> str:
    compact = "".join(ch for ch in raw.upper() if ch.isalnum())
    return f"{compact[:4]}-{compact[4:]}" if len(compact) == 8 else raw.strip().upper()


def start_login(session: Session, client_ip: str, ttl_s: int) -> StartedLogin:
    """Create a pending code (caller commits)."""
    now = utcnow()
    while True:
        user_code = new_user_code()
        clash = session.scalar(
            select(CliLoginCode.id).where(CliLoginCode.user_code == user_code, CliLoginCode.expires_at > now)
        )
        if clash is None:
            break
    cli_code = secrets.token_urlsafe(32)
    session.add(
        CliLoginCode(
            code_hash=sha256_hex(cli_code),
            user_code=user_code,
            client_ip=client_ip[:64],
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    session.flush()
    return StartedLogin(cli_code=cli_code, user_code=user_code, expires_in=ttl_s)


def state_of(row: CliLoginCode | None) -> CodeState:
    if row is None:
        return CodeState.UNKNOWN
    if row.status == CodeState.CONSUMED.value:
        return CodeState.CONSUMED
    if row.expires_at <= utcnow():
        return CodeState.EXPIRED
    return CodeState(row.status)


def find_by_cli_code(session: Session, cli_code: str) -> CliLoginCode | None:
    return session.scalar(select(CliLoginCode).where(CliLoginCode.code_hash == sha256_hex(cli_code)))


def find_by_user_code(session: Session, user_code: str) -> CliLoginCode | None:
    """The newest code with this user code (older expired ones may share it)."""
    return session.scalar(
        select(CliLoginCode)
        .where(CliLoginCode.user_code == normalize_user_code(user_code))
        .order_by(CliLoginCode.created_at.desc())
        .limit(1)
    )


def decide(session: Session, row: CliLoginCode, user_id: str, approve: bool) -> bool:
    """Approve or deny a pending code for `user_id`; False when it is no longer pending."""
    result = session.execute(
        update(CliLoginCode)
        .where(CliLoginCode.id == row.id, CliLoginCode.status == CodeState.PENDING.value)
        .values(
            status=(CodeState.APPROVED if approve else CodeState.DENIED).value,
            user_id=user_id,
            approved_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return getattr(result, "rowcount", 0) == 1


def consume(session: Session, row: CliLoginCode) -> bool:
    """Claim an approved code for the one token hand-out; False if another request got it first."""
    result = session.execute(
        update(CliLoginCode)
        .where(CliLoginCode.id == row.id, CliLoginCode.status == CodeState.APPROVED.value)
        .values(status=CodeState.CONSUMED.value)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return getattr(result, "rowcount", 0) == 1
