"""Reserve-then-settle: a priced request holds its maximum cost before going upstream, so concurrent
requests (through one Gateway or several on one store) can never spend more than the balance."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from gateway_harness import SERVERLESS_MODEL, GatewayStore, LiveGateway, Scenario
from gateway_process import GatewayProcess
from sqlalchemy import func, select

from kvmesh.gateway.reservations import maximum_cost_micros, prompt_token_bound
from kvmesh.store.models import BalanceReservation, LedgerEntry, UsageRecord, utcnow

SLOW_STREAM = {
    "model": SERVERLESS_MODEL,
    "messages": [{"role": "user", "content": "fault:slow"}],
    "max_tokens": 5,
    "stream": True,
}


def _balance(store: GatewayStore, user_id: str) -> int:
    with store.sessions() as session:
        credits = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(
                LedgerEntry.user_id == user_id
            )
        )
        spent = session.scalar(
            select(func.coalesce(func.sum(UsageRecord.cost_micros), 0)).where(UsageRecord.user_id == user_id)
        )
    return int(credits or 0) - int(spent or 0)


def _holds(store: GatewayStore) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(BalanceReservation)) or 0)


def _max_cost(body: dict[str, Any]) -> int:
    # The scenario's serverless prices: 1 µ$ per input token, 2 µ$ per output token.
    return (prompt_token_bound(body) * 1_000_000 + body["max_tokens"] * 2_000_000 + 999_999) // 1_000_000


async def _burst(urls: list[str], key: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(index: int) -> httpx.Response:
            url = urls[index % len(urls)] + "/v1/chat/completions"
            return await client.post(url, json=SLOW_STREAM, headers={"Authorization": f"Bearer {key}"})

        return list(await asyncio.gather(*(one(index) for index in range(count))))


def _poor_user(scenario: Scenario) -> Any:
    """A user whose balance fits one slow stream's maximum cost, not two."""
    user = scenario.store.add_user()
    scenario.store.grant(user.user_id, _max_cost(SLOW_STREAM) * 3 // 2)
    return user


async def _assert_one_fits(scenario: Scenario, gateways: list[LiveGateway]) -> None:
    user = _poor_user(scenario)
    responses = await _burst([gateway.base_url for gateway in gateways], user.key, 10)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [402] * 9
    refused = next(response for response in responses if response.status_code == 402)
    assert refused.json()["error"]["code"] == "insufficient_balance"
    await asyncio.to_thread(scenario.store.wait_for_usage, 1)
    assert _balance(scenario.store, user.user_id) >= 0
    assert _holds(scenario.store) == 0


async def test_ten_concurrent_streams_on_a_balance_for_one_get_one_answer_and_nine_402(
    scenario: Scenario,
) -> None:
    await _assert_one_fits(scenario, [scenario.gateway])


async def test_two_gateways_on_one_store_cannot_overspend_together(
    scenario: Scenario, start_gateway: Callable[..., LiveGateway]
) -> None:
    second = start_gateway()
    await _assert_one_fits(scenario, [scenario.gateway, second])


def test_answer_settles_the_hold_to_the_metered_cost(scenario: Scenario) -> None:
    body = {**SLOW_STREAM, "stream": False, "messages": [{"role": "user", "content": "hi"}]}
    before = _balance(scenario.store, scenario.tenant.user_id)
    response = httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions", json=body, headers=scenario.serverless_headers()
    )
    assert response.status_code == 200
    (record,) = scenario.store.wait_for_usage(1)
    # stand-in usage: 7 prompt tokens (2 of them cached, billed at the cached price: 0 here) and 5
    # completion tokens, at 1 and 2 micro-dollars a token
    assert record.cost_micros == (7 - 2) * 1 + 2 * 0 + 5 * 2
    assert _balance(scenario.store, scenario.tenant.user_id) == before - record.cost_micros
    assert _holds(scenario.store) == 0


def test_upstream_failure_releases_the_whole_hold(scenario: Scenario) -> None:
    body = {**SLOW_STREAM, "stream": False, "messages": [{"role": "user", "content": "fault:500"}]}
    response = httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions", json=body, headers=scenario.serverless_headers()
    )
    assert response.status_code == 502
    assert [record.cost_micros for record in scenario.store.wait_for_usage(1)] == [0]
    assert _holds(scenario.store) == 0


def test_request_without_max_tokens_reserves_and_sends_the_default(
    scenario: Scenario, start_gateway: Callable[..., LiveGateway]
) -> None:
    gateway = start_gateway(default_max_tokens=40)
    user = scenario.store.add_user()
    body = {"model": SERVERLESS_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    scenario.store.grant(user.user_id, _max_cost({**body, "max_tokens": 40}) - 1)
    headers = {"Authorization": f"Bearer {user.key}"}
    refused = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, headers=headers)
    assert refused.status_code == 402 and scenario.upstream.requests == 0
    scenario.store.grant(user.user_id, 1)
    answered = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, headers=headers)
    assert answered.status_code == 200
    assert scenario.upstream.bodies[-1]["max_tokens"] == 40


def test_hold_left_by_a_dead_gateway_stops_counting_when_it_expires(scenario: Scenario) -> None:
    user = scenario.store.add_user()
    scenario.store.grant(user.user_id, _max_cost(SLOW_STREAM) * 2)
    with scenario.store.sessions() as session, session.begin():
        session.add(
            BalanceReservation(
                usage_key="dead-gateway-hold",
                user_id=user.user_id,
                amount_micros=_max_cost(SLOW_STREAM) * 2,
                expires_at=utcnow() - timedelta(seconds=1),
            )
        )
    body = {**SLOW_STREAM, "stream": False, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {user.key}"},
    )
    assert response.status_code == 200
    assert scenario.gateway.app.reservations.sweep_expired() == 1


def test_maximum_cost_counts_every_prompt_token_uncached(scenario: Scenario) -> None:
    route = asyncio.run(scenario.gateway.app.directory.serverless_route(SERVERLESS_MODEL))
    assert route is not None
    assert maximum_cost_micros(route, 10, 3) == 10 * 1 + 3 * 2


def test_priced_responses_request_without_a_limit_gets_max_output_tokens(
    scenario: Scenario, start_gateway: Callable[..., LiveGateway]
) -> None:
    gateway = start_gateway(default_max_tokens=33)
    body = {"model": SERVERLESS_MODEL, "input": "hi"}
    httpx.post(gateway.base_url + "/v1/responses", json=body, headers=scenario.serverless_headers())
    sent = scenario.upstream.bodies[-1]
    assert sent["max_output_tokens"] == 33 and "max_tokens" not in sent


async def test_two_gateway_processes_on_one_store_cannot_overspend_together(
    scenario: Scenario, tmp_path: Path
) -> None:
    first = GatewayProcess(scenario.store.url, tmp_path / "one", scenario.store.secret)
    second = GatewayProcess(scenario.store.url, tmp_path / "two", scenario.store.secret)
    await asyncio.gather(asyncio.to_thread(first.start), asyncio.to_thread(second.start))
    try:
        user = _poor_user(scenario)
        responses = await _burst([first.base_url, second.base_url], user.key, 10)
        assert sorted(response.status_code for response in responses) == [200] + [402] * 9
        await asyncio.to_thread(scenario.store.wait_for_usage, 1)
        assert _balance(scenario.store, user.user_id) >= 0
        assert _holds(scenario.store) == 0
    finally:
        await asyncio.gather(asyncio.to_thread(first.stop), asyncio.to_thread(second.stop))
