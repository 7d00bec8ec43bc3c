"""Refusals (401/403/404/402) carry the wire error body and X-Request-Id and never reach an upstream."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from gateway_harness import SERVED_NAME, SERVERLESS_MODEL, Scenario
from sqlalchemy import select

from kvmesh.store.models import Replica

BODY = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def _post(scenario: Scenario, headers: dict[str, str], body: dict[str, Any] = BODY) -> httpx.Response:
    return httpx.post(scenario.gateway.base_url + "/v1/chat/completions", json=body, headers=headers)


def _assert_refused(response: httpx.Response, status: int, code: str, scenario: Scenario) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["x-request-id"]
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]
    assert scenario.upstream.requests == 0
    return error


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "missing_api_key"), ({"Authorization": "Bearer tmk_not-a-real-key"}, "invalid_api_key")],
    ids=["missing", "unknown"],
)
def test_missing_or_unknown_key_is_401(scenario: Scenario, headers: dict[str, str], code: str) -> None:
    _assert_refused(_post(scenario, headers), 401, code, scenario)


def test_key_of_another_user_is_403(scenario: Scenario) -> None:
    other = scenario.store.add_user()
    headers = {"Authorization": f"Bearer {other.key}", "X-User-Id": scenario.tenant.user_id}
    _assert_refused(_post(scenario, headers), 403, "api_key_user_mismatch", scenario)


def test_unknown_on_demand_model_is_404_naming_how_to_list(scenario: Scenario) -> None:
    body = {**BODY, "model": "nope"}
    error = _assert_refused(
        _post(scenario, scenario.on_demand_headers(), body), 404, "model_not_found", scenario
    )
    assert "tm models list" in error["message"] and "/v1/models" in error["message"]


def test_unknown_serverless_model_is_404_naming_how_to_list(scenario: Scenario) -> None:
    body = {**BODY, "model": "nope"}
    error = _assert_refused(
        _post(scenario, scenario.serverless_headers(), body), 404, "model_not_found", scenario
    )
    assert "tm billing pricing serverless list" in error["message"]


def test_priced_model_without_balance_is_402(scenario: Scenario) -> None:
    broke = scenario.store.add_user()
    body = {**BODY, "model": SERVERLESS_MODEL}
    response = _post(scenario, {"Authorization": f"Bearer {broke.key}"}, body)
    _assert_refused(response, 402, "insufficient_balance", scenario)


def test_invalid_json_body_is_400(scenario: Scenario) -> None:
    response = httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions",
        content=b"{nope",
        headers=scenario.on_demand_headers(),
    )
    _assert_refused(response, 400, "invalid_json", scenario)


def test_revoked_key_is_refused_within_five_seconds(scenario: Scenario) -> None:
    assert _post(scenario, scenario.on_demand_headers()).status_code == 200
    scenario.store.revoke(scenario.tenant.api_key_id)
    revoked_at = time.monotonic()
    status = 200
    while status == 200 and time.monotonic() - revoked_at < 5.0:
        status = _post(scenario, scenario.on_demand_headers()).status_code
        time.sleep(0.1)
    assert status == 401


def test_unknown_path_is_404_with_wire_body(scenario: Scenario) -> None:
    response = httpx.get(scenario.gateway.base_url + "/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_path"
    assert response.headers["x-request-id"]


def test_deployment_key_works_for_its_own_deployment(scenario: Scenario) -> None:
    key = scenario.store.add_deployment_key(scenario.tenant.user_id, scenario.deployment_id)
    response = _post(scenario, {"Authorization": f"Bearer {key}", "X-User-Id": scenario.tenant.user_id})
    assert response.status_code == 200 and scenario.upstream.requests == 1


def test_deployment_key_is_403_for_another_deployment_of_its_owner(scenario: Scenario) -> None:
    other = scenario.store.add_deployment(scenario.tenant.user_id, "other-model", ["http://127.0.0.1:9/v1"])
    key = scenario.store.add_deployment_key(scenario.tenant.user_id, other)
    headers = {"Authorization": f"Bearer {key}", "X-User-Id": scenario.tenant.user_id}
    error = _assert_refused(_post(scenario, headers), 403, "api_key_deployment_mismatch", scenario)
    assert "tm models list" in error["message"] and "account API key" in error["message"]
    assert "tm init --sync" in error["message"]


def test_deployment_key_also_works_on_serverless_as_the_reference_cli_sends_it(scenario: Scenario) -> None:
    key = scenario.store.add_deployment_key(scenario.tenant.user_id, scenario.deployment_id)
    response = _post(scenario, {"Authorization": f"Bearer {key}"}, {**BODY, "model": SERVERLESS_MODEL})
    assert response.status_code == 200 and scenario.upstream.requests == 1


def test_account_key_works_for_every_deployment_and_serverless(scenario: Scenario) -> None:
    with scenario.store.sessions() as session:
        url = session.scalars(
            select(Replica.url).where(Replica.deployment_id == scenario.deployment_id)
        ).one()
    scenario.store.add_deployment(scenario.tenant.user_id, "second-model", [url])
    assert _post(scenario, scenario.on_demand_headers()).status_code == 200
    assert _post(scenario, scenario.on_demand_headers(), {**BODY, "model": "second-model"}).status_code == 200
    serverless = _post(scenario, scenario.serverless_headers(), {**BODY, "model": SERVERLESS_MODEL})
    assert serverless.status_code == 200 and scenario.upstream.requests == 3
