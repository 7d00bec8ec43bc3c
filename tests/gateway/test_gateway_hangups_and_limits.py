"""Hang-ups are billed what was served, give-ups cancel the upstream, bad bodies are 400, caps are 429."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
import pytest
from gateway_harness import SERVED_NAME, SERVERLESS_MODEL, LiveGateway, Scenario

from kvmesh.gateway.reservations import estimated_prompt_tokens
from kvmesh.store.models import UserQuota

LONG_PROMPT = "tell me about the weather " * 60


def test_client_hanging_up_mid_stream_is_billed_its_prompt_and_the_tokens_sent(scenario: Scenario) -> None:
    body = {
        "model": SERVERLESS_MODEL,
        "messages": [{"role": "user", "content": LONG_PROMPT}, {"role": "user", "content": "fault:slow"}],
        "max_tokens": 50,
        "stream": True,
    }
    url = scenario.gateway.base_url + "/v1/chat/completions"
    with httpx.stream("POST", url, json=body, headers=scenario.serverless_headers(), timeout=10) as response:
        assert response.status_code == 200
        chunks = 0
        for line in response.iter_lines():
            if line.startswith("data: "):
                chunks += 1
            if chunks == 3:
                break
    (record,) = scenario.store.wait_for_usage(1)
    assert record.status_code == 499
    assert record.prompt_tokens == estimated_prompt_tokens(body) > 100
    assert 3 <= record.completion_tokens < 50
    assert record.cost_micros == record.prompt_tokens + 2 * record.completion_tokens


def test_client_giving_up_before_the_first_byte_cancels_the_upstream(scenario: Scenario) -> None:
    body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "fault:stall-head"}]}
    url = scenario.gateway.base_url + "/v1/chat/completions"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json=body, headers=scenario.on_demand_headers(), timeout=0.5)
    deadline = time.monotonic() + 1.5  # well before the Gateway's own 2 s first-byte timeout
    while scenario.upstream.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert scenario.upstream.disconnects == 1
    (record,) = scenario.store.wait_for_usage(1)
    assert record.status_code == 499


def test_total_timeout_ends_a_stream_that_runs_too_long(
    scenario: Scenario, start_gateway: Callable[..., LiveGateway]
) -> None:
    gateway = start_gateway(total_timeout=0.35)
    body = {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": "fault:slow"}],
        "max_tokens": 20,
        "stream": True,
    }
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions", json=body, headers=scenario.on_demand_headers(), timeout=10
    )
    assert response.status_code == 200
    assert '"code": "upstream_idle"' in response.text and "[DONE]" not in response.text


def test_hundred_thousand_deep_json_is_400_without_a_logged_traceback(
    scenario: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    deep = b'{"model": "m", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions",
        content=deep,
        headers={**scenario.on_demand_headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_400_not_forwarded(scenario: Scenario, constant: str) -> None:
    body = f'{{"model": "{SERVED_NAME}", "messages": [], "max_tokens": {constant}}}'.encode()
    response = httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions",
        content=body,
        headers={**scenario.on_demand_headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert constant in response.json()["error"]["message"]
    assert scenario.upstream.requests == 0


async def test_concurrent_requests_past_the_users_cap_are_429(scenario: Scenario) -> None:
    with scenario.store.sessions() as session, session.begin():
        session.add(UserQuota(user_id=scenario.tenant.user_id, max_concurrent_requests=2))
    body = {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": "fault:slow"}],
        "max_tokens": 5,
        "stream": True,
    }
    url = scenario.gateway.base_url + "/v1/chat/completions"
    async with httpx.AsyncClient(timeout=30) as client:
        responses = await asyncio.gather(
            *(client.post(url, json=body, headers=scenario.on_demand_headers()) for _ in range(5))
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 200, 429, 429, 429]
        refused = next(response for response in responses if response.status_code == 429)
        assert refused.json()["error"]["code"] == "concurrency_limit_exceeded"
        assert "2 in flight" in refused.json()["error"]["message"]
        again = await client.post(url, json=body, headers=scenario.on_demand_headers())
        assert again.status_code == 200  # slots come back when requests finish
