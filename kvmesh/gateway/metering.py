"""Usage metering off the hot path: records queue in memory and are written to the store in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from kvmesh.background import BackgroundTask
from kvmesh.store.models import UsageRecord
from kvmesh.store.usage_rollup import apply_usage_to_rollups

log = logging.getLogger(__name__)

MAX_PENDING = 200_000
USAGE_INSERT = insert(UsageRecord.metadata.tables[UsageRecord.__tablename__])


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

    def as_columns(self) -> dict[str, Any]:
        """Column name -> value, for the batched Core insert."""
        return {name: getattr(self, name) for name in USAGE_ROW_FIELDS}


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
    """`record()` is a list append; a background task writes batches every `flush_interval` seconds
    (sooner once `batch_size` rows wait). `stop()` writes everything left, so a clean shutdown loses nothing;
    a failed write keeps its rows for the next attempt."""

    def __init__(
        self, session_factory: Callable[[], Session], flush_interval: float, batch_size: int
    ) -> None:
        self._sessions = session_factory
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._pending: list[UsageRow] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._flusher = BackgroundTask(self._flush_loop, "kvmesh-usage-flush")
        self.written = 0

    def record(self, row: UsageRow) -> None:
        self._pending.append(row)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._flusher.start()

    async def stop(self) -> None:
        await self._flusher.stop()
        for _ in range(3):
            if not self._pending:
                break
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self._pending:
                batch = self._pending[: self._batch_size]
                del self._pending[: len(batch)]
                try:
                    await asyncio.to_thread(self._write, batch)
                except Exception:
                    log.exception("writing %d usage records failed; will retry", len(batch))
                    self._pending[:0] = batch
                    del self._pending[MAX_PENDING:]
                    return
                self.written += len(batch)

    def _write(self, batch: list[UsageRow]) -> None:
        # A Core executemany on the table: several times cheaper than the ORM bulk path per batch.
        rows = [row.as_columns() for row in batch]
        with self._sessions() as session, session.begin():
            session.connection().execute(USAGE_INSERT, rows)
            apply_usage_to_rollups(session, rows)

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            await self.flush()
