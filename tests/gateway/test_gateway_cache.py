"""RefreshingCache: warm hits skip the load, stale entries refresh in the background, hard TTL bounds age."""

from __future__ import annotations

import asyncio

from kvmesh.gateway.cache import RefreshingCache


class CountingLoader:
    def __init__(self) -> None:
        self.calls = 0
        self.value = "v1"

    async def __call__(self, key: str) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        return self.value


async def test_warm_entry_is_served_without_a_load() -> None:
    loader = CountingLoader()
    cache: RefreshingCache[str, str] = RefreshingCache(loader, soft_ttl=60, hard_ttl=60)
    assert [await cache.get("k") for _ in range(5)] == ["v1"] * 5
    assert loader.calls == 1


async def test_concurrent_misses_share_one_load() -> None:
    loader = CountingLoader()
    cache: RefreshingCache[str, str] = RefreshingCache(loader, soft_ttl=60, hard_ttl=60)
    assert await asyncio.gather(*(cache.get("k") for _ in range(10))) == ["v1"] * 10
    assert loader.calls == 1


async def test_stale_entry_is_served_while_refreshing_in_background() -> None:
    loader = CountingLoader()
    cache: RefreshingCache[str, str] = RefreshingCache(loader, soft_ttl=0.0, hard_ttl=60)
    await cache.get("k")
    loader.value = "v2"
    assert await cache.get("k") == "v1"
    await asyncio.sleep(0.01)
    assert await cache.get("k") == "v2"


async def test_entry_past_hard_ttl_waits_for_a_fresh_load() -> None:
    loader = CountingLoader()
    cache: RefreshingCache[str, str] = RefreshingCache(loader, soft_ttl=0.0, hard_ttl=0.0)
    await cache.get("k")
    loader.value = "v2"
    assert await cache.get("k") == "v2"
