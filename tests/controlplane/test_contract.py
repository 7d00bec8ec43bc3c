"""The seed-flow contract (protocol.md §10.1): wrapper fields always present, field names and types,
RFC 3339 `Z` timestamps, UUID user ids, `MODEL_STATUS_UP` for a ready deployment."""

from __future__ import annotations

import re
import uuid
from typing import Any

from records_harness import deploy, mark_ready, sign_up

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
OPTIONAL_STR = (str, type(None))

MODEL_FIELDS: dict[str, Any] = {
    "modelId": str,
    "deploymentId": str,
    "userId": str,
    "description": str,
    "modelPath": str,
    "modelName": str,
    "status": str,
    "events": list,
    "createdAt": str,
    "updatedAt": str,
    "modelSpec": dict,
    "infra": dict,
    "gpuCount": int,
    "gpuType": str,
    "replicas": int,
    "endpoint": str,
    "apiKey": OPTIONAL_STR,
}
API_KEY_FIELDS: dict[str, Any] = {
    "id": str,
    "name": str,
    "scopes": list,
    "createdAt": str,
    "expiresAt": OPTIONAL_STR,
    "deletedAt": OPTIONAL_STR,
}
PRICING_FIELDS: dict[str, Any] = {
    "id": str,
    "name": str,
    "model": str,
    "inputTokenPrice": dict,
    "outputTokenPrice": dict,
    "cachedTokenPrice": dict,
    "isActive": bool,
}


def _check_fields(item: dict[str, Any], fields: dict[str, Any]) -> None:
    for name, kind in fields.items():
        assert name in item, f"missing {name}"
        assert isinstance(item[name], kind), f"{name} is {type(item[name]).__name__}"


def _check_money(money: dict[str, Any]) -> None:
    assert money["currencyCode"] == "USD"
    assert isinstance(money["units"], str) and re.fullmatch(r"-?\d+", money["units"])
    assert isinstance(money["nanos"], int) and not isinstance(money["nanos"], bool)


def _check_time(value: str | None) -> None:
    assert value is None or RFC3339_Z.match(value), value


def test_wrappers_are_present_when_everything_is_empty(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    assert alice.client.get("/v1/models").json() == {"models": []}
    assert alice.client.get("/v1/deployments").json() == {"deployments": []}
    assert alice.client.get("/v1/billing/serverless-pricing", params={"model": "none"}).json() == {
        "pricing": []
    }
    assert alice.client.get("/v1/billing/gpu-pricing", params={"gpuType": "none"}).json() == {"pricing": []}
    assert alice.client.get("/v1/billing/usage").json() == {"usage": [], "nextPageToken": ""}
    bob = sign_up(live, "bob@example.com")
    keys = bob.client.get("/v1/users/api-keys").json()
    assert list(keys) == ["apiKeys"] and len(keys["apiKeys"]) == 1


def test_profile_user_id_is_a_canonical_uuid(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    user_id = alice.client.get("/auth/profile").json()["user"]["id"]
    assert str(uuid.UUID(user_id)) == user_id == alice.user_id


def test_model_records_have_every_field_with_its_type(control_plane: Any) -> None:
    live = control_plane(gateway_cloud_provider="CLOUD_PROVIDER_NEBIUS")
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice)
    mark_ready(live, record["deploymentId"])
    models = alice.client.get("/v1/models").json()["models"]
    single = alice.client.get(f"/v1/models/{record['deploymentId']}").json()["model"]
    for model in [*models, single]:
        _check_fields(model, MODEL_FIELDS)
        assert model["status"] == "MODEL_STATUS_UP"
        assert model["infra"]["cloudProvider"] == "CLOUD_PROVIDER_NEBIUS"
        assert model["apiKey"] and model["modelName"] == "smollm2-135m-instruct"
        assert str(uuid.UUID(model["userId"])) == model["userId"]
        for stamp in (model["createdAt"], model["updatedAt"], *(e["createdAt"] for e in model["events"])):
            _check_time(stamp)
        for event in model["events"]:
            _check_fields(event, {"createdAt": str, "log": str, "eventType": str})


def test_api_key_records_have_reference_fields_and_times(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    spare = alice.client.post("/v1/users/api-keys", json={"userId": alice.user_id}).json()["apiKey"]
    alice.client.delete("/v1/users/api-keys", params={"apiKey": spare["id"]})
    keys = alice.client.get(
        "/v1/users/api-keys", params={"userId": alice.user_id, "includeDeleted": "true"}
    ).json()["apiKeys"]
    assert len(keys) == 2
    for key in keys:
        _check_fields(key, API_KEY_FIELDS)
        for stamp in (key["createdAt"], key["expiresAt"], key["deletedAt"]):
            _check_time(stamp)
    assert sum(key["deletedAt"] is not None for key in keys) == 1


def test_pricing_and_billing_bodies_carry_money_objects(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    pricing = alice.client.get("/v1/billing/serverless-pricing", params={"activeOnly": "true"}).json()[
        "pricing"
    ]
    assert pricing
    for item in pricing:
        _check_fields(item, PRICING_FIELDS)
        for field in ("inputTokenPrice", "outputTokenPrice", "cachedTokenPrice"):
            _check_money(item[field])
    for gpu in alice.client.get("/v1/billing/gpu-pricing").json()["pricing"]:
        _check_fields(gpu, {"gpuType": str, "cloudProvider": str, "hourlyRate": dict, "isActive": bool})
        _check_money(gpu["hourlyRate"])
    _check_money(alice.client.get("/v1/billing/balance").json()["balance"])
    summary = alice.client.get("/v1/billing/spending/summary").json()
    for field in ("spend24h", "spend7d", "spend30d"):
        _check_money(summary[field])
    history = alice.client.get("/v1/billing/spending/history").json()
    for bucket in history["buckets"]:
        _check_time(bucket["bucketStart"])
        _check_money(bucket["amount"])
        _check_money(bucket["costSaving"])
    page = alice.client.get("/v1/billing/transactions").json()
    assert set(page) == {"transactions", "nextPageToken"}
    for item in page["transactions"]:
        _check_fields(
            item, {"transactionId": str, "createdAt": str, "amount": dict, "type": str, "status": str}
        )
        _check_time(item["createdAt"])


def test_every_error_is_the_wire_body_with_a_request_id(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    for response in [
        alice.client.get("/v1/models/nope"),
        alice.client.post("/v1/deployments", json={"modelName": 5}),
        alice.client.post(
            "/v1/deployments", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        alice.client.get("/v1/billing/transactions", params={"pageSize": 0}),
    ]:
        assert response.status_code in (400, 404, 422)
        error = response.json()["error"]
        assert set(error) == {"message", "type", "code"} and error["message"]
        assert response.headers["X-Request-Id"]
