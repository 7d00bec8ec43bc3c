"""Limits that hold across every Gateway replica: counters kept in Redis, not in process memory.

`RedisKeyRateLimiter` is a per-API-key fixed-window request limit (one INCR per request, the window
key expiring by itself); `RedisConcurrency` counts a user's requests in flight as members of a
sorted set scored by their deadline, so a Gateway that dies mid-request cannot leak a slot past
`lease_s`. With several Gateways behind one Service these are what make a limit a limit; the
in-process `LocalKeyRateLimiter` is for a single Gateway without Redis.

When Redis cannot be reached a limiter lets the request through and logs it (`fail open`): a
limit is a guard against abuse, not a reason to stop serving.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "kvmesh"


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_s: int = 0


class KeyRateLimiter(Protocol):
    limit_per_minute: int

    async def hit(self, api_key_id: str) -> RateDecision:
        """Count one request for the key; `allowed` is False once the window's limit is used up."""
        ...

    async def close(self) -> None: ...


def _window(now: float, window_s: int) -> tuple[int, int]:
    """(index of the current window, seconds until it ends)."""
    index = int(now // window_s)
    return index, max(1, int((index + 1) * window_s - now + 0.999))


class LocalKeyRateLimiter:
    """Fixed windows in this process's memory: correct for exactly one Gateway process."""

    def __init__(self, limit_per_minute: int, window_s: int = 60) -> None:
        self.limit_per_minute = limit_per_minute
        self._window_s = window_s
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, api_key_id: str) -> RateDecision:
        index, remaining = _window(time.time(), self._window_s)
        window, count = self._counts.get(api_key_id, (index, 0))
        count = count + 1 if window == index else 1
        if len(self._counts) > 100_000:
            self._counts.clear()
        self._counts[api_key_id] = (index, count)
        return RateDecision(
            count <= self.limit_per_minute, 0 if count <= self.limit_per_minute else remaining
        )

    async def close(self) -> None:
        return None


class RedisKeyRateLimiter:
    """Fixed windows counted in Redis, so every Gateway sharing the Redis shares each key's budget."""

    def __init__(self, redis: Redis, limit_per_minute: int, window_s: int = 60) -> None:
        self.limit_per_minute = limit_per_minute
        self._redis = redis
        self._window_s = window_s

    async def hit(self, api_key_id: str) -> RateDecision:
        index, remaining = _window(time.time(), self._window_s)
        counter = f"{KEY_PREFIX}:rate:{api_key_id}:{index}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(counter)
                pipe.expire(counter, self._window_s * 2)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate limit store unreachable (%s); letting the request through", exc)
            return RateDecision(True)
        allowed = int(count) <= self.limit_per_minute
        return RateDecision(allowed, 0 if allowed else remaining)

    async def close(self) -> None:
        await self._redis.aclose()


# KEYS[1] = the user's in-flight set; ARGV = now, deadline, request id, limit.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) - tonumber(ARGV[1])) + 1)
return 1
"""


class RedisConcurrency:
    """Per-user requests in flight across all Gateways; a slot is a lease that ends by itself. The
    Gateway's `ConcurrencyLimiter` (kvmesh.gateway.limits) when `--redis-url` is set."""

    def __init__(self, redis: Redis, lease_s: float = 600.0) -> None:
        self._redis = redis
        self._lease_s = lease_s

    def _key(self, user_id: str) -> str:
        return f"{KEY_PREFIX}:inflight:{user_id}"

    async def acquire(self, user_id: str, request_id: str, limit: int) -> bool:
        """Take one of the user's `limit` slots for `request_id`; False when all are taken."""
        now = time.time()
        try:
            taken = await self._redis.eval(  # type: ignore[misc]
                _ACQUIRE, 1, self._key(user_id), now, now + self._lease_s, request_id, limit
            )
        except (RedisError, OSError) as exc:
            log.warning("concurrency store unreachable (%s); letting the request through", exc)
            return True
        return bool(taken)

    async def release(self, user_id: str, request_id: str) -> None:
        try:
            await self._redis.zrem(self._key(user_id), request_id)
        except (RedisError, OSError) as exc:
            log.warning("could not release a concurrency slot (%s); its lease ends it", exc)

    async def in_flight(self, user_id: str) -> int:
        await self._redis.zremrangebyscore(self._key(user_id), "-inf", time.time())
        return int(await self._redis.zcard(self._key(user_id)))

    async def close(self) -> None:
        await self._redis.aclose()


def connect(redis_url: str) -> Redis:
    """A client with short timeouts: a slow Redis must not stall the hot path."""
    return Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)


def key_rate_limiter(redis_url: str, limit_per_minute: int) -> KeyRateLimiter | None:
    """The per-key limiter the Gateway settings ask for: None when off, Redis-backed when a URL is set."""
    if limit_per_minute <= 0:
        return None
    if redis_url:
        return RedisKeyRateLimiter(connect(redis_url), limit_per_minute)
    return LocalKeyRateLimiter(limit_per_minute)
