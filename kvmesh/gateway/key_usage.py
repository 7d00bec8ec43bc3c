"""`lastUsedAt` of API keys: remembered on the hot path in memory, written in batches, throttled per key.

A write per request would put the store on the hot path; instead the Gateway notes a key's use at most
once per `min_interval` (60 s by default) and a background task writes the noted keys in one UPDATE
every `flush_interval`. `lastUsedAt` is therefore accurate to about a minute, which is what it is for
(spotting unused keys), and costs one small write per active key per minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from kvmesh.background import BackgroundTask
from kvmesh.store.models import ApiKey

log = logging.getLogger(__name__)


class KeyUseTracker:
    def __init__(
        self, session_factory: Callable[[], Session], min_interval: float = 60.0, flush_interval: float = 5.0
    ) -> None:
        self._sessions = session_factory
        self._min_interval = min_interval
        self._flush_interval = flush_interval
        self._noted_at: dict[str, float] = {}  # key id -> monotonic time its use was last noted
        self._pending: set[str] = set()
        self._flusher = BackgroundTask(self._flush_loop, "kvmesh-key-last-used")

    def touch(self, api_key_id: str) -> None:
        """Note a use of the key (O(1), no I/O); ignored while its last note is under `min_interval` old."""
        now = time.monotonic()
        noted = self._noted_at.get(api_key_id)
        if noted is not None and now - noted < self._min_interval:
            return
        self._noted_at[api_key_id] = now
        self._pending.add(api_key_id)

    def start(self) -> None:
        self._flusher.start()

    async def stop(self) -> None:
        await self._flusher.stop()
        await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, set()
        try:
            await asyncio.to_thread(self._write, sorted(batch), datetime.now(UTC))
        except Exception:
            log.exception("writing lastUsedAt of %d keys failed; will retry", len(batch))
            self._pending |= batch
        horizon = time.monotonic() - self._min_interval
        self._noted_at = {key: at for key, at in self._noted_at.items() if at >= horizon}

    def _write(self, key_ids: list[str], moment: datetime) -> None:
        with self._sessions() as session, session.begin():
            for start in range(0, len(key_ids), 500):
                chunk = key_ids[start : start + 500]
                session.execute(
                    update(ApiKey)
                    .where(
                        ApiKey.id.in_(chunk), or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < moment)
                    )
                    .values(last_used_at=moment)
                    .execution_options(synchronize_session=False)
                )

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush()
