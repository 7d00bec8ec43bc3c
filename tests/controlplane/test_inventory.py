"""Models/deployments inventory: create → pending with its own key, ready → UP, delete, names, labels."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from records_harness import deploy, mark_ready, sign_up

from kvmesh.store.models import ApiKey, Deployment
from kvmesh.store.users import find_active_api_key


class RecordingController:
    """Stands in for the engines DeploymentController: same interface, records wake-ups."""

    def __init__(self) -> None:
        self.wakes = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def wake(self) -> None:
        self.wakes += 1


def test_created_deployment_is_pending_with_its_own_usable_gateway_key(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice, "my-model")
    assert record["status"] == "MODEL_STATUS_PENDING"
    assert record["modelId"] == record["deploymentId"] and record["modelName"] == "my-model"
    assert record["modelPath"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert record["userId"] == alice.user_id and record["replicas"] == 1
    assert record["endpoint"] == "http://127.0.0.1:8081"
    services = live.app.state.services
    with services.session_factory() as session:
        key = find_active_api_key(session, services.secret, record["apiKey"])
        assert (
            key is not None and key.deployment_id == record["deploymentId"] and key.user_id == alice.user_id
        )
        assert session.get(Deployment, record["deploymentId"]).status == "pending"  # type: ignore[union-attr]


def test_ready_deployments_are_listed_up_and_the_newest_is_latest(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    older = deploy(alice, "older")
    newer = deploy(alice, "newer")
    deploy(alice, "still-starting")
    mark_ready(live, older["deploymentId"])
    mark_ready(live, newer["deploymentId"])
    models = alice.client.get("/v1/models").json()["models"]
    up = [m for m in models if m["status"] == "MODEL_STATUS_UP"]
    assert {m["modelName"] for m in up} == {"older", "newer"}
    latest = max(up, key=lambda m: (m["updatedAt"], m["createdAt"]))
    assert latest["modelName"] == "newer"
    assert [m["status"] for m in models if m["modelName"] == "still-starting"] == ["MODEL_STATUS_PENDING"]
    assert all(m["replicaStatus"][0]["status"] == "ready" for m in up)


def test_delete_stops_revokes_the_key_and_hides_the_model(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice)
    response = alice.client.delete(f"/v1/models/{record['deploymentId']}")
    assert response.status_code == 200 and response.json() == {"empty": {}}
    assert alice.client.get("/v1/models").json() == {"models": []}
    gone = alice.client.get(f"/v1/models/{record['deploymentId']}").json()["model"]
    assert gone["status"] == "MODEL_STATUS_DELETED" and gone["apiKey"] is None
    assert alice.client.delete(f"/v1/models/{record['deploymentId']}").status_code == 404
    with live.app.state.services.session_factory() as session:
        key = session.query(ApiKey).filter(ApiKey.deployment_id == record["deploymentId"]).one()
        assert key.revoked_at is not None
    listed = alice.client.get("/v1/models", params={"includeDeleted": "true"}).json()["models"]
    assert [m["status"] for m in listed] == ["MODEL_STATUS_DELETED"]


def test_controller_is_woken_finishes_the_delete_and_the_name_is_free_at_once(control_plane: Any) -> None:
    live = control_plane()
    controller = RecordingController()
    live.app.state.services.controller = controller
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice)
    assert controller.wakes == 1
    alice.client.delete(f"/v1/deployments/{record['deploymentId']}")
    assert controller.wakes == 2
    with live.app.state.services.session_factory() as session:
        deployment = session.get(Deployment, record["deploymentId"])
        assert deployment is not None and deployment.status == "stopping" and deployment.deleted_at is None
    assert alice.client.get("/v1/deployments").json() == {"deployments": []}
    stopping = alice.client.get(f"/v1/deployments/{record['deploymentId']}").json()["deployment"]
    assert stopping["status"] == "MODEL_STATUS_DELETED" and stopping["modelName"] == record["modelName"]
    again = deploy(alice, record["modelName"])  # the name is free while the old replicas stop
    assert again["deploymentId"] != record["deploymentId"] and controller.wakes == 3


def test_served_names_are_validated_and_unique_per_user(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    bob = sign_up(live, "bob@example.com")
    for bad in ["Upper", "-dash-first", "has space", "a/b", "x" * 101, ""]:
        response = alice.client.post("/v1/deployments", json={"modelName": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_model_name"
    first = deploy(alice, "m.v1_x-2")
    duplicate = alice.client.post("/v1/deployments", json={"modelName": "m.v1_x-2"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "model_name_taken"
    deploy(bob, "m.v1_x-2")
    check = alice.client.post("/v1/models:validate", json={"modelName": "m.v1_x-2"}).json()
    assert check["isValid"] is False and "already" in check["reason"]
    assert alice.client.post("/v1/models:validate", json={"modelName": "fresh"}).json()["isValid"] is True
    alice.client.delete(f"/v1/models/{first['deploymentId']}")
    assert deploy(alice, "m.v1_x-2")["deploymentId"] != first["deploymentId"]


def test_reference_deploy_request_maps_model_path_infra_and_gpus(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    body = {
        "modelName": "ref-model",
        "userId": alice.user_id,
        "modelPath": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "infra": {"cloudProvider": "CLOUD_PROVIDER_LAMBDA", "lambdaRegion": "us-east-1"},
        "gpuCount": 1,
        "gpuType": "GPU_TYPE_H100",
        "hfToken": "ignored",
    }
    response = alice.client.post("/v1/models", json=body)
    assert response.status_code == 200, response.text
    model = response.json()["model"]
    assert model["infra"] == {
        "cloudProvider": "CLOUD_PROVIDER_LAMBDA",
        "lambdaRegion": "us-east-1",
        "onpremRegion": None,
        "nebiusRegion": None,
    }
    assert (model["gpuCount"], model["gpuType"]) == (1, "GPU_TYPE_H100")
    unknown = alice.client.post("/v1/models", json={"modelName": "x", "modelPath": "no/such-model"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "catalog_not_found"


def test_cluster_label_setting_relabels_self_hosted_deployments(control_plane: Any) -> None:
    live = control_plane(
        gateway_cloud_provider="CLOUD_PROVIDER_NEBIUS", public_gateway_base="http://gw.test:9000/"
    )
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice)
    assert record["infra"]["cloudProvider"] == "CLOUD_PROVIDER_NEBIUS"
    assert record["infra"]["nebiusRegion"] == "local"
    assert record["endpoint"] == "http://gw.test:9000"


def test_external_deployment_needs_an_upstream_and_never_shows_its_secret(control_plane: Any) -> None:
    live = control_plane(upstream_allowlist=("127.0.0.1/32",))
    alice = sign_up(live, "alice@example.com")
    missing = alice.client.post("/v1/deployments", json={"modelName": "ext", "provider": "external"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid_upstream"
    record = deploy(
        alice,
        "ext",
        provider="external",
        upstreamUrl="http://127.0.0.1:9/v1",
        upstreamApiKey="sk-upstream-secret",
        engineConfig={"nested": {"token": "t0ps3cret", "keep": 1}},
    )
    assert record["modelSpec"]["engineConfig"] == {"base_url": "http://127.0.0.1:9/v1", "nested": {"keep": 1}}
    listed = alice.client.get("/v1/deployments").text
    assert "sk-upstream-secret" not in listed and "t0ps3cret" not in listed


def test_catalog_models_are_listed_for_deploy_choices(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    catalog = alice.client.get("/v1/catalog/models").json()["catalogModels"]
    assert any(entry["name"] == "HuggingFaceTB/SmolLM2-135M-Instruct" for entry in catalog)


def test_unknown_or_malformed_model_ids_are_404(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    for model_id in ["nope", "00000000-0000-0000-0000-000000000000", "%00"]:
        response = alice.client.get(f"/v1/models/{model_id}")
        assert response.status_code == 404, model_id
        assert response.json()["error"]["code"] == "model_not_found"


def test_concurrent_creates_of_one_name_yield_one_deployment_and_conflicts(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")

    def create(_: int) -> int:
        with httpx.Client(base_url=live.base_url, headers=alice.headers, timeout=30) as client:
            return client.post("/v1/deployments", json={"modelName": "race"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(create, range(6)))
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
    assert len(alice.client.get("/v1/deployments").json()["deployments"]) == 1
