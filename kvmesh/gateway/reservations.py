"""Reserve-then-settle for priced requests: hold the maximum cost in the store before calling upstream.

The check and the hold are one atomic step in the database, so several Gateway processes on one store
cannot together spend more than a balance:

- available = credits (ledger) − metered usage (daily rollups) − unexpired reservations of the user;
- the hold is one `INSERT … SELECT … WHERE available >= amount`. On SQLite that statement takes the
  write lock before it reads, so concurrent reservers are serialised by the database; on PostgreSQL the
  user's row is locked first (`SELECT … FOR UPDATE`), so the second reserver's statement sees the first
  one's committed hold.

A reservation is settled by `kvmesh.gateway.metering.write_usage_records`, which deletes it in the same
transaction that inserts the request's usage row, so money is never counted twice nor not at all. A
request that never reaches metering releases its hold directly; a hold left by a Gateway that died stops
counting at `expires_at` and is swept later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from kvmesh.gateway.directory import Route
from kvmesh.store.models import BalanceReservation, LedgerEntry, UsageDailyRollup, User, utcnow

log = logging.getLogger(__name__)

# Chat templates add a few special tokens around each message and before the answer.
TOKENS_PER_MESSAGE = 8
TOKENS_PER_REQUEST = 16
STORE_RETRY_PAUSE = 0.2


def prompt_token_bound(request: dict[str, Any]) -> int:
    """An upper bound on the request's prompt tokens without tokenising: one token per UTF-8 byte of the
    prompt text (a BPE token is never shorter than a byte) plus the template's special tokens."""
    total = TOKENS_PER_REQUEST
    messages = request.get("messages")
    if isinstance(messages, list):
        for message in messages:
            total += TOKENS_PER_MESSAGE + _text_bytes(message)
    for field in ("prompt", "input", "instructions", "tools"):
        if field in request:
            total += _text_bytes(request[field])
    return total


def _text_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if value is None:
        return 0
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def answer_token_limit(request: dict[str, Any]) -> int | None:
    """The answer length the client asked for (`max_completion_tokens`, `max_tokens`, `max_output_tokens`)."""
    for field in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = request.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def maximum_cost_micros(route: Route, prompt_tokens: int, answer_tokens: int) -> int:
    """What the request can cost at most: every prompt token uncached, the whole answer length."""
    return route.cost_micros(prompt_tokens, answer_tokens, 0)


class BalanceReservations:
    """Reserve and release holds in the store; every call runs its transaction in a worker thread."""

    def __init__(
        self, session_factory: Callable[[], Session], hold_seconds: float, store_wait_seconds: float = 3.0
    ) -> None:
        self._sessions = session_factory
        self._hold = timedelta(seconds=hold_seconds)
        self._store_wait = store_wait_seconds

    async def reserve(self, usage_key: str, user_id: str, amount_micros: int) -> bool:
        """Hold `amount_micros` for this request; False when the user's available balance is short.

        A store that cannot be reached (a PostgreSQL restart) is retried for `store_wait_seconds` before
        the error goes up (and the client gets 503): a short outage only slows requests down."""
        deadline = time.monotonic() + self._store_wait
        while True:
            try:
                return await asyncio.to_thread(self._reserve, usage_key, user_id, amount_micros)
            except IntegrityError:
                return True  # an earlier attempt committed, only its answer was lost
            except (OperationalError, InterfaceError):
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(STORE_RETRY_PAUSE)

    async def release(self, usage_key: str) -> None:
        """Drop a hold whose request will write no usage record (it failed before metering)."""
        await asyncio.to_thread(self._release, usage_key)

    def sweep_expired(self) -> int:
        """Delete holds past their expiry (left by a Gateway that died); returns how many."""
        with self._sessions() as session, session.begin():
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                delete(BalanceReservation).where(BalanceReservation.expires_at <= utcnow())
            )
        return int(result.rowcount or 0)

    def _reserve(self, usage_key: str, user_id: str, amount: int) -> bool:
        now = utcnow()
        with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                session.execute(select(User.id).where(User.id == user_id).with_for_update())
            statement = insert(BalanceReservation).from_select(
                ["usage_key", "user_id", "amount_micros", "created_at", "expires_at"],
                select(
                    literal(usage_key),
                    literal(user_id),
                    literal(amount),
                    literal(now, BalanceReservation.created_at.type),
                    literal(now + self._hold, BalanceReservation.expires_at.type),
                ).where(available_micros(user_id, now) >= amount),
            )
            held = session.execute(statement.returning(BalanceReservation.usage_key)).first()
        return held is not None

    def _release(self, usage_key: str) -> None:
        with self._sessions() as session, session.begin():
            session.execute(delete(BalanceReservation).where(BalanceReservation.usage_key == usage_key))


def available_micros(user_id: str, now: datetime) -> Any:
    """SQL expression: credits − metered usage − unexpired holds of `user_id`. Usage is read from the daily
    rollup, as `kvmesh.store.users.balance_micros` does (the usage writer keeps both in one transaction)."""
    credits = (
        select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0))
        .where(LedgerEntry.user_id == user_id)
        .scalar_subquery()
    )
    spent = (
        select(func.coalesce(func.sum(UsageDailyRollup.cost_micros), 0))
        .where(UsageDailyRollup.user_id == user_id)
        .scalar_subquery()
    )
    held = (
        select(func.coalesce(func.sum(BalanceReservation.amount_micros), 0))
        .where(and_(BalanceReservation.user_id == user_id, BalanceReservation.expires_at > now))
        .scalar_subquery()
    )
    return credits - spent - held


def estimated_prompt_tokens(request: dict[str, Any]) -> int:
    """A billing estimate when neither the engine's usage nor its tokenizer is available: about four bytes
    of text per token (typical of BPE vocabularies on English), plus the template's special tokens."""
    bound = prompt_token_bound(request)
    overhead = TOKENS_PER_REQUEST + TOKENS_PER_MESSAGE * _message_count(request)
    return overhead + (max(bound - overhead, 0) + 3) // 4


def _message_count(request: dict[str, Any]) -> int:
    messages = request.get("messages")
    return len(messages) if isinstance(messages, list) else 0
