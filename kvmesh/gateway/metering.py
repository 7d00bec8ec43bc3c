"""Usage metering: each record is spooled before its answer ends, then stored in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from kvmesh.background import BackgroundTask
from kvmesh.gateway.spool import UsageSpool
from kvmesh.store.models import BalanceReservation, UsageRecord
from kvmesh.store.usage_rollup import apply_usage_to_rollups

log = logging.getLogger(__name__)

MAX_PENDING = 200_000
USAGE_INSERT = insert(UsageRecord.metadata.tables[UsageRecord.__tablename__])
SWEEP_EVERY_FLUSHES = 120


def write_usage_records(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write a batch of usage records and settle their balance holds, in the caller's transaction.

    Idempotent: rows whose `usage_key` is already stored (a spool replayed after a crash) are skipped.
    The daily rollups (`kvmesh.store.usage_rollup`) get exactly the rows inserted, in the same transaction,
    so a replayed spool cannot count a request twice there either. Returns the rows actually inserted.
    """
    keys = [row["usage_key"] for row in rows if row.get("usage_key")]
    connection = session.connection()
    stored: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found = connection.execute(select(UsageRecord.usage_key).where(UsageRecord.usage_key.in_(chunk)))
        stored.update(key for key in found.scalars() if key is not None)
    seen: set[str] = set()
    fresh: list[dict[str, Any]] = []
    for row in rows:
        key = row.get("usage_key")
        if key in stored or key in seen:
            continue
        if key:
            seen.add(key)
        fresh.append(row)
    if fresh:
        # A Core executemany on the table: several times cheaper than the ORM bulk path per batch.
        connection.execute(USAGE_INSERT, fresh)
        apply_usage_to_rollups(session, fresh)  # only what was inserted: a replay adds nothing twice
    for start in range(0, len(keys), 500):
        connection.execute(
            delete(BalanceReservation).where(BalanceReservation.usage_key.in_(keys[start : start + 500]))
        )
    return fresh


@dataclass(frozen=True, slots=True)
class TokenCounts:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


NO_TOKENS = TokenCounts()


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One metered request, as the Gateway writes it to the `usage_records` table."""

    request_id: str
    user_id: str
    api_key_id: str | None
    deployment_id: str | None
    surface: str
    model: str
    endpoint: str
    streamed: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms: int
    ttft_ms: int | None
    status_code: int
    cost_micros: int
    created_at: datetime
    usage_key: str | None = None  # the Gateway's own unique key: makes replaying the spool idempotent

    def as_columns(self) -> dict[str, Any]:
        """Column name -> value, for the batched Core insert."""
        return {name: getattr(self, name) for name in USAGE_ROW_FIELDS}

    @classmethod
    def from_columns(cls, columns: dict[str, Any]) -> UsageRow:
        """The row back from `as_columns()` output (a replayed spool line); unknown keys are ignored."""
        return cls(**{name: columns[name] for name in USAGE_ROW_FIELDS if name in columns})


USAGE_ROW_FIELDS = tuple(field.name for field in fields(UsageRow))


def token_counts(usage: Any) -> TokenCounts | None:
    """Read an OpenAI `usage` object (chat or completions shape); None when it is not one."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return TokenCounts(
        prompt_tokens=_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
        completion_tokens=_int(usage.get("completion_tokens", usage.get("output_tokens"))),
        cached_tokens=_int(cached),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class UsageRecorder:
    """`record()` spools the row (when a spool is set) and queues it; a background task writes batches every
    `flush_interval` seconds (sooner once `batch_size` rows wait). `stop()` writes everything left, so a
    clean shutdown loses nothing; a failed write keeps its rows for the next attempt; a crash loses nothing
    spooled, since `start()` replays dead Gateways' spool files. The loop also sweeps expired balance holds.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        flush_interval: float,
        batch_size: int,
        spool: UsageSpool | None = None,
        sweep: Callable[[], int] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._spool = spool
        self._sweep = sweep
        self._pending: list[UsageRow] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._flusher = BackgroundTask(self._flush_loop, "kvmesh-usage-flush")
        self.written = 0
        self.recovered = 0

    async def record(self, row: UsageRow) -> None:
        """Queue the row for the store; with a spool, it is in the spool file when this returns."""
        self._pending.append(row)
        if len(self._pending) >= self._batch_size:
            self._wake.set()
        if self._spool is not None:
            try:
                self._spool.append(row.as_columns())
            except OSError:
                log.error("usage record %s is in memory only: spool write failed", row.usage_key)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        if self._spool is not None:
            recovered = [UsageRow.from_columns(columns) for columns in self._spool.open()]
            self.recovered = len(recovered)
            self._pending[:0] = recovered
        self._flusher.start()

    async def stop(self) -> None:
        await self._flusher.stop()
        for _ in range(3):
            if not self._pending:
                break
            await self.flush()
        if self._spool is not None:
            if not self._pending:
                self._spool.truncate()
            self._spool.close()

    async def flush(self) -> None:
        async with self._lock:
            while self._pending:
                batch = self._pending[: self._batch_size]
                del self._pending[: len(batch)]
                try:
                    await asyncio.to_thread(self._write, batch)
                except Exception as exc:
                    log.error("writing %d usage records failed; will retry: %s", len(batch), exc)
                    self._pending[:0] = batch
                    del self._pending[MAX_PENDING:]
                    return
                self.written += len(batch)
            if self._spool is not None and self._spool.idle:
                self._spool.truncate()  # everything spooled so far is in the store

    def _write(self, batch: list[UsageRow]) -> None:
        with self._sessions() as session, session.begin():
            write_usage_records(session, [row.as_columns() for row in batch])

    async def _flush_loop(self) -> None:
        flushes = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            await self.flush()
            flushes += 1
            if self._sweep is not None and flushes % SWEEP_EVERY_FLUSHES == 1:
                try:
                    await asyncio.to_thread(self._sweep)
                except Exception as exc:
                    log.error("sweeping expired balance holds failed: %s", exc)
