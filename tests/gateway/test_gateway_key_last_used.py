"""An API key's lastUsedAt follows its use through the Gateway, written in throttled batches."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from gateway_harness import SERVED_NAME, GatewayStore, LiveGateway

from kvmesh.store.models import ApiKey


def _last_used(store: GatewayStore, api_key_id: str) -> datetime | None:
    with store.sessions() as session:
        return session.get_one(ApiKey, api_key_id).last_used_at


def _wait_for_last_used(store: GatewayStore, api_key_id: str) -> datetime:
    deadline = time.monotonic() + 10
    while (moment := _last_used(store, api_key_id)) is None:
        assert time.monotonic() < deadline, "lastUsedAt was never written"
        time.sleep(0.05)
    return moment


def test_last_used_at_is_written_after_a_request(
    store: GatewayStore, standin: Any, start_gateway: Callable[..., LiveGateway]
) -> None:
    tenant = store.add_user()
    store.add_deployment(tenant.user_id, SERVED_NAME, [standin.base_url + "/v1"])
    gateway = start_gateway(key_last_used_flush_interval=0.1)
    assert _last_used(store, tenant.api_key_id) is None
    headers = {"Authorization": f"Bearer {tenant.key}", "X-User-Id": tenant.user_id}
    body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}]}
    assert (
        httpx.post(gateway.base_url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    )
    _wait_for_last_used(store, tenant.api_key_id)


def test_last_used_at_is_written_at_most_once_per_interval(
    store: GatewayStore, start_gateway: Callable[..., LiveGateway]
) -> None:
    tenant = store.add_user()
    gateway = start_gateway(key_last_used_flush_interval=0.1, key_last_used_interval=3600)
    headers = {"Authorization": f"Bearer {tenant.key}"}
    assert httpx.get(gateway.base_url + "/v1/models", headers=headers).status_code == 200
    first = _wait_for_last_used(store, tenant.api_key_id)
    for _ in range(5):
        httpx.get(gateway.base_url + "/v1/models", headers=headers)
    time.sleep(0.5)  # several flushes pass; the key was noted within the hour, so nothing is written
    assert _last_used(store, tenant.api_key_id) == first


def test_a_bad_key_is_not_noted(store: GatewayStore, start_gateway: Callable[..., LiveGateway]) -> None:
    gateway = start_gateway(key_last_used_flush_interval=0.1)
    response = httpx.get(gateway.base_url + "/v1/models", headers={"Authorization": "Bearer tmk_nope"})
    assert response.status_code == 401
    assert gateway.app.key_uses._pending == set()
