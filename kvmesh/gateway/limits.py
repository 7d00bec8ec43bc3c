"""Per-user concurrent-request caps: one small interface, two implementations.

`ConcurrencyLimiter` is what the Gateway calls (`Admission`). `LocalConcurrencyLimiter` counts in this
process only, so with N Gateway processes a user can have up to N x the cap in flight. With `--redis-url`
the Gateway uses `kvmesh.gateway.shared_limits.RedisConcurrency` instead: leased slots in Redis, one cap
across every Gateway process and replica. There is one limiter per Gateway, never both.
"""

from __future__ import annotations

from typing import Protocol


class ConcurrencyLimiter(Protocol):
    async def acquire(self, user_id: str, request_id: str, limit: int) -> bool:
        """Take a slot for `request_id` if fewer than `limit` of the user's are taken; False at the cap."""
        ...

    async def release(self, user_id: str, request_id: str) -> None:
        """Give back the slot `acquire` took for `request_id`."""
        ...


class LocalConcurrencyLimiter:
    """Counts in-flight requests per user in this process (no I/O; the event loop serialises it)."""

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}

    async def acquire(self, user_id: str, request_id: str, limit: int) -> bool:
        current = self._in_flight.get(user_id, 0)
        if current >= limit:
            return False
        self._in_flight[user_id] = current + 1
        return True

    async def release(self, user_id: str, request_id: str) -> None:
        current = self._in_flight.get(user_id, 0) - 1
        if current > 0:
            self._in_flight[user_id] = current
        else:
            self._in_flight.pop(user_id, None)

    def in_flight(self, user_id: str) -> int:
        return self._in_flight.get(user_id, 0)
