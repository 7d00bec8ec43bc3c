"""Shared limit counters against the real Redis on 127.0.0.1 (and a port where no Redis listens)."""

from __future__ import annotations

import asyncio
import uuid

from kvmesh.engines.processes import free_port
from kvmesh.gateway.shared_limits import (
    LocalKeyRateLimiter,
    RedisConcurrency,
    RedisKeyRateLimiter,
    connect,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_two_limiters_on_one_redis_share_a_keys_budget() -> None:
    first, second = RedisKeyRateLimiter(connect(REDIS_URL), 3), RedisKeyRateLimiter(connect(REDIS_URL), 3)
    key = uuid.uuid4().hex
    try:
        decisions = [await (first if i % 2 else second).hit(key) for i in range(5)]
    finally:
        await first.close()
        await second.close()
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert 1 <= decisions[-1].retry_after_s <= 60


async def test_unreachable_redis_lets_requests_through() -> None:
    limiter = RedisKeyRateLimiter(connect(f"redis://127.0.0.1:{free_port()}/0"), 1)
    try:
        assert all([(await limiter.hit("k")).allowed for _ in range(3)])
    finally:
        await limiter.close()


async def test_local_limiter_counts_per_key() -> None:
    limiter = LocalKeyRateLimiter(2)
    assert [(await limiter.hit("a")).allowed for _ in range(3)] == [True, True, False]
    assert (await limiter.hit("b")).allowed


async def test_concurrency_slots_are_shared_released_and_leased() -> None:
    redis = connect(REDIS_URL)
    slots, short = RedisConcurrency(redis), RedisConcurrency(redis, lease_s=0.3)
    user = uuid.uuid4().hex
    try:
        assert await slots.acquire(user, "r1", limit=2)
        assert await slots.acquire(user, "r2", limit=2)
        assert not await slots.acquire(user, "r3", limit=2)
        await slots.release(user, "r1")
        assert await slots.acquire(user, "r3", limit=2)
        other = uuid.uuid4().hex
        assert await short.acquire(other, "lost", limit=1)  # its Gateway dies without releasing
        assert not await short.acquire(other, "next", limit=1)
        await asyncio.sleep(0.4)
        assert await short.acquire(other, "next", limit=1)
        assert await slots.in_flight(user) == 2
    finally:
        await redis.aclose()


async def test_with_a_redis_url_the_gateways_concurrency_limiter_is_the_shared_one() -> None:
    """One limiter, not two caps: with --redis-url every Gateway's per-user cap counts Redis slots."""
    from kvmesh.gateway.app import GatewayApp
    from kvmesh.gateway.limits import LocalConcurrencyLimiter
    from kvmesh.gateway.settings import GatewaySettings

    settings = GatewaySettings(database_url="sqlite://", server_secret=b"s" * 32, redis_url=REDIS_URL)
    first, second = (GatewayApp(settings, lambda: None) for _ in range(2))
    user = uuid.uuid4().hex
    try:
        assert isinstance(first.limiter, RedisConcurrency)
        assert await first.limiter.acquire(user, "r1", 1)
        assert not await second.limiter.acquire(user, "r2", 1)  # the cap holds across Gateways
        await first.limiter.release(user, "r1")
        assert await second.limiter.acquire(user, "r2", 1)
        await second.limiter.release(user, "r2")
    finally:
        await first.shutdown()
        await second.shutdown()
    plain = GatewayApp(GatewaySettings(database_url="sqlite://", server_secret=b"s" * 32), lambda: None)
    assert isinstance(plain.limiter, LocalConcurrencyLimiter)
