"""The real `openai` client (sync and async, streamed and not) works through the Gateway on both surfaces."""

from __future__ import annotations

import openai
import pytest
from gateway_harness import SERVED_NAME, SERVERLESS_MODEL, Scenario

MESSAGES = [{"role": "user", "content": "hi"}]


def _client(scenario: Scenario, on_demand: bool) -> openai.OpenAI:
    headers = {"X-User-Id": scenario.tenant.user_id} if on_demand else {}
    return openai.OpenAI(
        base_url=scenario.gateway.base_url + "/v1",
        api_key=scenario.tenant.key,
        default_headers=headers,
        max_retries=0,
    )


@pytest.mark.parametrize("on_demand", [True, False], ids=["on-demand", "serverless"])
def test_sync_client_gets_completion_and_stream(scenario: Scenario, on_demand: bool) -> None:
    client = _client(scenario, on_demand)
    model = SERVED_NAME if on_demand else SERVERLESS_MODEL
    reply = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=4)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "t0 t1 t2 t3 "
    assert reply.usage is not None and reply.usage.completion_tokens == 4
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=3, stream=True))  # type: ignore[arg-type]
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "t0 t1 t2 "
    assert all(chunk.choices for chunk in chunks), (
        "the usage-only chunk the client did not ask for is stripped"
    )


async def test_async_client_stream_with_usage_requested(scenario: Scenario) -> None:
    client = openai.AsyncOpenAI(
        base_url=scenario.gateway.base_url + "/v1",
        api_key=scenario.tenant.key,
        default_headers={"X-User-Id": scenario.tenant.user_id},
        max_retries=0,
    )
    stream = await client.chat.completions.create(
        model=SERVED_NAME,
        messages=MESSAGES,  # type: ignore[arg-type]
        max_tokens=2,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
    reply = await client.completions.create(model=SERVED_NAME, prompt="hello", max_tokens=3)
    assert reply.choices[0].text == "t0 t1 t2 "
    await client.close()


def test_models_list_per_surface(scenario: Scenario) -> None:
    assert [m.id for m in _client(scenario, True).models.list()] == [SERVED_NAME]
    assert [m.id for m in _client(scenario, False).models.list()] == [SERVERLESS_MODEL]
