"""kvmesh.store.users: accounts, API keys and balances on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.models import UsageRecord, utcnow
from kvmesh.store.passwords import make_password_hasher, verify_password
from kvmesh.store.secrets import decrypt_api_key
from kvmesh.store.usage_rollup import apply_usage_to_rollups
from kvmesh.store.users import (
    AccountError,
    active_account_keys,
    balance_micros,
    create_api_key,
    create_user,
    find_active_api_key,
    grant_credit,
    revoke_api_key,
)

SECRET = b"s" * 32
HASHER = make_password_hasher(time_cost=1, memory_cost_kib=8192)


@pytest.fixture
def session(migrated_database_url: str) -> Iterator[Session]:
    engine = create_engine_for_url(migrated_database_url)
    with make_session_factory(engine)() as db:
        yield db
    engine.dispose()


def test_create_user_hashes_password_and_returns_a_working_key(session: Session) -> None:
    user, key = create_user(session, SECRET, " Alice@Example.COM ", "correct horse", hasher=HASHER)
    session.commit()
    assert user.email == "alice@example.com"
    assert user.password_hash and "correct horse" not in user.password_hash
    assert verify_password(HASHER, user.password_hash, "correct horse")
    assert not verify_password(HASHER, user.password_hash, "wrong horse")
    row = find_active_api_key(session, SECRET, key)
    assert row is not None and row.user_id == user.id and row.deployment_id is None
    assert decrypt_api_key(SECRET, row.key_encrypted) == key
    assert key.startswith("tmk_") and key not in row.key_hash


def test_new_account_gets_signup_credit(session: Session) -> None:
    user, _ = create_user(
        session, SECRET, "a@b.io", "password1", signup_credit_micros=7_000_000, hasher=HASHER
    )
    assert balance_micros(session, user.id) == 7_000_000


def test_balance_is_ledger_minus_usage(session: Session) -> None:
    user, _ = create_user(session, SECRET, "a@b.io", "password1", hasher=HASHER)
    grant_credit(session, user.id, 2_500_000, "top-up")
    row = {"request_id": "r1", "user_id": user.id, "surface": "serverless", "model": "m", "cost_micros": 1234}
    session.add(UsageRecord(**row))
    apply_usage_to_rollups(session, [row])
    session.commit()
    assert balance_micros(session, user.id) == 10_000_000 + 2_500_000 - 1234


def test_duplicate_email_is_refused(session: Session) -> None:
    create_user(session, SECRET, "a@b.io", "password1", hasher=HASHER)
    with pytest.raises(AccountError, match="already exists"):
        create_user(session, SECRET, "A@B.io", "password2", hasher=HASHER)


@pytest.mark.parametrize(("email", "password"), [("not-an-email", "password1"), ("a@b.io", "short")])
def test_bad_email_or_short_password_is_refused(session: Session, email: str, password: str) -> None:
    with pytest.raises(AccountError):
        create_user(session, SECRET, email, password, hasher=HASHER)


def test_last_account_key_cannot_be_revoked(session: Session) -> None:
    user, key = create_user(session, SECRET, "a@b.io", "password1", hasher=HASHER)
    first = find_active_api_key(session, SECRET, key)
    assert first is not None
    with pytest.raises(AccountError, match="last active API key"):
        revoke_api_key(session, user.id, first.id)
    second, second_key = create_api_key(session, SECRET, user.id, name="ci")
    revoke_api_key(session, user.id, first.id)
    session.commit()
    assert find_active_api_key(session, SECRET, key) is None
    assert find_active_api_key(session, SECRET, second_key) is not None
    assert [row.id for row in active_account_keys(session, user.id)] == [second.id]


def test_revoking_someone_elses_key_is_refused(session: Session) -> None:
    alice, _ = create_user(session, SECRET, "alice@b.io", "password1", hasher=HASHER)
    _, bob_key = create_user(session, SECRET, "bob@b.io", "password1", hasher=HASHER)
    bob_row = find_active_api_key(session, SECRET, bob_key)
    assert bob_row is not None
    with pytest.raises(AccountError, match="no such API key"):
        revoke_api_key(session, alice.id, bob_row.id)


def test_expired_key_is_not_active(session: Session) -> None:
    user, _ = create_user(session, SECRET, "a@b.io", "password1", hasher=HASHER)
    _, key = create_api_key(session, SECRET, user.id, expires_at=utcnow() - timedelta(seconds=1))
    session.commit()
    assert find_active_api_key(session, SECRET, key) is None
    assert find_active_api_key(session, SECRET, "tmk_unknown") is None
