"""A small async read-through cache: soft TTL refreshes in the background, hard TTL bounds staleness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RefreshingCache(Generic[K, V]):
    """Serve warm entries from memory; past `soft_ttl` serve them while one background load refreshes
    them; past `hard_ttl` (or when absent) wait for the load. Concurrent misses share one load."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        soft_ttl: float,
        hard_ttl: float,
        max_entries: int = 100_000,
    ) -> None:
        self._load = load
        self._soft_ttl = soft_ttl
        self._hard_ttl = max(hard_ttl, soft_ttl)
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._inflight: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K) -> V:
        entry = self._entries.get(key)
        if entry is not None:
            age = time.monotonic() - entry[0]
            if age < self._soft_ttl:
                return entry[1]
            if age < self._hard_ttl:
                if key not in self._inflight:
                    self._start_load(key)
                return entry[1]
        future = self._inflight.get(key)
        if future is None:
            future = self._start_load(key)
        return await asyncio.shield(future)

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

    def adjust(self, key: K, update: Callable[[V], V]) -> None:
        """Apply a local change to a cached value without touching its age (e.g. spend against a balance)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], update(entry[1]))

    def _start_load(self, key: K) -> asyncio.Future[V]:
        future: asyncio.Future[V] = asyncio.ensure_future(self._load_and_store(key))
        self._inflight[key] = future
        future.add_done_callback(_consume_exception)
        return future

    async def _load_and_store(self, key: K) -> V:
        started = time.monotonic()
        try:
            value = await self._load(key)
        finally:
            self._inflight.pop(key, None)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (started, value)
        return value


def _consume_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
