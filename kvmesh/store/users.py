"""Account service API shared by the Control Plane, the Gateway and operator commands.

Functions take an open Session and only `flush()`: the caller owns the transaction and commits.
Every user always has at least one active account-level API key (deployment_id NULL): one is
created with the account and the last one cannot be revoked.
"""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvmesh.store.models import ApiKey, LedgerEntry, UsageDailyRollup, User, utcnow
from kvmesh.store.passwords import MIN_PASSWORD_LENGTH, hash_password, make_password_hasher
from kvmesh.store.secrets import encrypt_api_key, hash_api_key, new_api_key

DEFAULT_SIGNUP_CREDIT_MICROS = 10_000_000
ROLE_ADMIN = "USER_ROLE_ADMIN"
ROLE_USER = "USER_ROLE_USER"
KEY_PREFIX_LENGTH = 12


class AccountError(ValueError):
    """A request the account store refuses (bad email, duplicate, last key, ...); message is user-facing."""


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    local, _, domain = value.partition("@")
    if not local or not domain or " " in value or len(value) > 320:
        raise AccountError(f"invalid email address: {email!r}")
    return value


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    session: Session,
    secret: bytes,
    email: str,
    password: str,
    *,
    admin: bool = False,
    display_name: str = "",
    signup_credit_micros: int = DEFAULT_SIGNUP_CREDIT_MICROS,
    hasher: PasswordHasher | None = None,
) -> tuple[User, str]:
    """Create a local account, its first API key and its starting credit; returns (user, key in clear)."""
    address = normalize_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if find_user_by_email(session, address) is not None:
        raise AccountError(f"a user with email {address} already exists")
    user = User(
        email=address,
        password_hash=hash_password(hasher or make_password_hasher(), password),
        display_name=display_name or address.split("@", 1)[0],
        role=ROLE_ADMIN if admin else ROLE_USER,
    )
    session.add(user)
    session.flush()
    _, key = create_api_key(session, secret, user.id, name="default")
    if signup_credit_micros:
        grant_credit(session, user.id, signup_credit_micros, "signup credit")
    return user, key


def set_password(
    session: Session, user: User, password: str, *, hasher: PasswordHasher | None = None
) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(hasher or make_password_hasher(), password)
    session.flush()


def create_api_key(
    session: Session,
    secret: bytes,
    user_id: str,
    *,
    name: str = "",
    deployment_id: str | None = None,
    expires_at: datetime | None = None,
    scopes: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Mint a gateway key for `user_id` (optionally bound to a deployment); returns (row, key in clear)."""
    key = new_api_key()
    row = ApiKey(
        user_id=user_id,
        deployment_id=deployment_id,
        name=name,
        key_hash=hash_api_key(secret, key),
        key_encrypted=encrypt_api_key(secret, key),
        key_prefix=key[:KEY_PREFIX_LENGTH],
        scopes=list(scopes or []),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, key


def is_key_active(row: ApiKey, now: datetime | None = None) -> bool:
    moment = now or utcnow()
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > moment)


def find_active_api_key(session: Session, secret: bytes, key: str) -> ApiKey | None:
    """Look a clear-text key up by its keyed hash; None when unknown, revoked or expired."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(secret, key)))
    return row if row is not None and is_key_active(row) else None


def active_account_keys(session: Session, user_id: str) -> list[ApiKey]:
    """The user's active account-level keys (deployment_id NULL), newest first."""
    rows = session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.deployment_id.is_(None), ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc())
    ).all()
    now = utcnow()
    return [row for row in rows if is_key_active(row, now)]


def revoke_api_key(session: Session, user_id: str, key_id: str) -> ApiKey:
    """Revoke one of the user's keys; refuses unknown keys and the last active account-level key."""
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != user_id:
        raise AccountError(f"no such API key: {key_id}")
    if row.revoked_at is not None:
        return row
    if row.deployment_id is None:
        others = [key for key in active_account_keys(session, user_id) if key.id != row.id]
        if not others:
            raise AccountError("cannot revoke your last active API key; create another one first")
    row.revoked_at = utcnow()
    session.flush()
    return row


def grant_credit(session: Session, user_id: str, amount_micros: int, description: str = "") -> LedgerEntry:
    entry = LedgerEntry(
        user_id=user_id, amount_micros=amount_micros, kind="credit_grant", description=description
    )
    session.add(entry)
    session.flush()
    return entry


def balance_micros(session: Session, user_id: str) -> int:
    """Σ ledger_entries.amount_micros − Σ usage cost (from the daily rollup, which holds every usage row)."""
    credited = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(LedgerEntry.user_id == user_id)
    )
    spent = session.scalar(
        select(func.coalesce(func.sum(UsageDailyRollup.cost_micros), 0)).where(
            UsageDailyRollup.user_id == user_id
        )
    )
    return int(credited or 0) - int(spent or 0)
