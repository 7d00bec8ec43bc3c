"""Bounded loopback load: 2,000 requests at concurrency 32 give exactly 2,000 usage records whose token
sums equal what the upstream served."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from gateway_harness import SERVED_NAME, Scenario

REQUESTS = 2000
CONCURRENCY = 32


async def test_every_request_is_metered_exactly_once(scenario: Scenario) -> None:
    url = scenario.gateway.base_url + "/v1/chat/completions"
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(REQUESTS):
        queue.put_nowait(index)
    statuses: list[int] = []

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            body = {
                "model": SERVED_NAME,
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 1 + index % 5,
                "stream": index % 2 == 0,
            }
            async with client.post(url, json=body, headers=scenario.on_demand_headers()) as response:
                await response.read()
                statuses.append(response.status)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    assert statuses.count(200) == REQUESTS

    deadline = time.monotonic() + 30
    while scenario.store.usage_count() < REQUESTS and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    records = scenario.store.usage()
    assert len(records) == REQUESTS
    assert len({record.request_id for record in records}) == REQUESTS
    assert sum(r.completion_tokens for r in records) == scenario.upstream.completion_tokens
    assert sum(r.prompt_tokens for r in records) == scenario.upstream.prompt_tokens
    assert sum(r.streamed for r in records) == REQUESTS // 2
