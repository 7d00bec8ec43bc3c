"""prefix_aware routing on two real llama-server replicas (1 thread each), through the Gateway.

Which replica served a request is read from the Gateway's own /metrics (prompt tokens per replica).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from engine_replicas import EngineReplica, start_engine_replicas
from gateway_harness import GatewayStore, LiveGateway

from kvmesh.gateway.routing import RoutingConfig

pytestmark = [pytest.mark.engine, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SERVED = "smollm2-135m-instruct"
SYSTEM = (
    "You are the support assistant of a small bakery. You answer questions about opening hours, "
    "bread, cakes, allergens and orders. Keep answers short, friendly and factual. " * 4
)
TURN_ONE = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "When do you open?"}]


@pytest.fixture
def replicas() -> Iterator[list[EngineReplica]]:
    started = start_engine_replicas(2)
    try:
        yield started
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
def routed(
    store: GatewayStore, replicas: list[EngineReplica], start_gateway: Callable[..., LiveGateway]
) -> tuple[LiveGateway, openai.OpenAI, dict[str, str]]:
    tenant = store.add_user()
    urls = [replica.base_url for replica in replicas]
    deployment_id = store.add_deployment(
        tenant.user_id, SERVED, urls, provider="llamacpp", routing="prefix_aware"
    )
    gateway = start_gateway(first_byte_timeout=60.0, idle_timeout=30.0, routing=RoutingConfig(load_margin=1))
    client = openai.OpenAI(
        base_url=gateway.base_url + "/v1",
        api_key=tenant.key,
        default_headers={"X-User-Id": tenant.user_id},
        max_retries=0,
    )
    return gateway, client, {"deployment": deployment_id}


def served_prompt_tokens(gateway: LiveGateway) -> dict[str, float]:
    """Prompt tokens per replica id, from the Gateway's /metrics."""
    text = httpx.get(gateway.base_url + "/metrics").text
    pattern = r'kvmesh_gateway_replica_prompt_tokens_total\{deployment="[^"]+",replica="([^"]+)"\} (\S+)'
    return {replica: float(value) for replica, value in re.findall(pattern, text)}


def served_by(gateway: LiveGateway, before: dict[str, float]) -> str:
    after = served_prompt_tokens(gateway)
    grown = [replica for replica, value in after.items() if value > before.get(replica, 0.0)]
    assert len(grown) == 1, (before, after)
    return grown[0]


def ask(client: openai.OpenAI, messages: list[dict[str, str]], max_tokens: int = 8) -> Any:
    return client.chat.completions.create(model=SERVED, messages=messages, max_tokens=max_tokens)  # type: ignore[arg-type]


def second_turn(first_answer: str) -> list[dict[str, str]]:
    return [
        *TURN_ONE,
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": "And on Sunday?"},
    ]


def test_the_second_turn_lands_on_the_same_replica_and_reuses_its_cache(
    routed: tuple[LiveGateway, openai.OpenAI, dict[str, str]],
) -> None:
    gateway, client, _ = routed
    before = served_prompt_tokens(gateway)
    first = ask(client, TURN_ONE)
    owner = served_by(gateway, before)
    before = served_prompt_tokens(gateway)
    follow_up = ask(client, second_turn(first.choices[0].message.content or ""))
    assert served_by(gateway, before) == owner
    details = follow_up.usage.prompt_tokens_details
    assert details is not None and (details.cached_tokens or 0) > 0


def test_streamed_turns_feed_the_engines_cached_tokens_back_after_the_pipe_ends(
    routed: tuple[LiveGateway, openai.OpenAI, dict[str, str]],
) -> None:
    """On kvmesh's own server a stream is piped inside the upstream callbacks; the router still
    learns the stream's prompt and cached tokens (from its usage event) once the relay is done."""
    gateway, client, ids = routed
    before = served_prompt_tokens(gateway)
    first = ask_streamed(client, TURN_ONE)
    owner = served_by(gateway, before)
    before = served_prompt_tokens(gateway)
    ask_streamed(client, second_turn(first))
    assert served_by(gateway, before) == owner
    metrics = httpx.get(gateway.base_url + "/metrics").text
    pattern = (
        r'kvmesh_gateway_replica_cached_tokens_total\{deployment="'
        + re.escape(ids["deployment"])
        + r'",replica="'
        + re.escape(owner)
        + r'"\} (\S+)'
    )
    cached = re.search(pattern, metrics)
    assert cached is not None and float(cached.group(1)) > 0, metrics
    labels = f'deployment="{ids["deployment"]}",engine="hit",predicted="hit"'
    hit = f"kvmesh_gateway_routing_predictions_total{{{labels}}}"
    assert hit in metrics


def ask_streamed(client: openai.OpenAI, messages: list[dict[str, str]], max_tokens: int = 8) -> str:
    stream = client.chat.completions.create(
        model=SERVED,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=max_tokens,
        stream=True,
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def test_with_the_owner_busy_beyond_the_margin_the_turn_spills_to_the_other_replica(
    routed: tuple[LiveGateway, openai.OpenAI, dict[str, str]],
) -> None:
    gateway, client, ids = routed
    before = served_prompt_tokens(gateway)
    first = ask(client, TURN_ONE)
    owner = served_by(gateway, before)
    started = threading.Barrier(3)
    busy = [threading.Thread(target=_hold_busy, args=(client, started)) for _ in range(2)]
    for thread in busy:
        thread.start()
    started.wait(timeout=60)  # both long answers are streaming from the owner (same prefix)
    before = served_prompt_tokens(gateway)
    ask(client, second_turn(first.choices[0].message.content or ""))
    after = served_prompt_tokens(gateway)  # a busy answer may finish meanwhile: it counts for the owner
    for thread in busy:
        thread.join(timeout=120)
    assert any(replica != owner and value > before.get(replica, 0.0) for replica, value in after.items())
    metrics = httpx.get(gateway.base_url + "/metrics").text
    labels = f'deployment="{ids["deployment"]}",policy="prefix_aware",reason="load_guard"'
    assert f"kvmesh_gateway_routing_fallbacks_total{{{labels}}} 1.0" in metrics


def test_a_killed_replicas_traffic_moves_at_once_without_errors(
    routed: tuple[LiveGateway, openai.OpenAI, dict[str, str]],
    replicas: list[EngineReplica],
    store: GatewayStore,
) -> None:
    gateway, client, _ = routed
    before = served_prompt_tokens(gateway)
    first = ask(client, TURN_ONE)
    owner = served_by(gateway, before)
    victim = next(replica for replica in replicas if replica.base_url == store.replica_url(owner))
    victim.kill()
    follow_up = second_turn(first.choices[0].message.content or "")
    for _ in range(3):
        before = served_prompt_tokens(gateway)
        reply = ask(client, follow_up, max_tokens=4)  # any 5xx raises here
        assert reply.choices[0].message.content is not None
        assert served_by(gateway, before) != owner


def _hold_busy(client: openai.OpenAI, started: threading.Barrier) -> None:
    stream = client.chat.completions.create(
        model=SERVED,
        messages=[*TURN_ONE[:1], {"role": "user", "content": "Write a long story about bread."}],  # type: ignore[list-item]
        max_tokens=160,
        stream=True,
    )
    chunks = iter(stream)
    next(chunks)
    started.wait(timeout=60)
    for _ in chunks:
        pass
