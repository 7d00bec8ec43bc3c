"""A deployment's Gateway routing policy: chosen on create, changed in place, shown on the record."""

from __future__ import annotations

from typing import Any

from records_harness import deploy, sign_up


def test_routing_chosen_on_create_is_shown_on_the_record(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    record = deploy(alice, "chat", replicas=2, routing="prefix_aware")
    assert record["routing"] == "prefix_aware" and record["modelSpec"]["routing"] == "prefix_aware"
    fetched = alice.client.get(f"/v1/deployments/{record['deploymentId']}").json()["deployment"]
    assert fetched["routing"] == "prefix_aware"


def test_without_a_choice_the_gateway_default_applies(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    assert deploy(alice, "plain")["routing"] == "default"


def test_routing_is_changed_in_place_and_back_to_the_default(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    path = f"/v1/deployments/{deploy(alice, 'chat')['deploymentId']}"
    changed = alice.client.patch(path, json={"routing": "session_affinity"})
    assert changed.status_code == 200 and changed.json()["deployment"]["routing"] == "session_affinity"
    events = [event["log"] for event in changed.json()["deployment"]["events"]]
    assert "routing policy set to session_affinity" in events
    assert alice.client.patch(path, json={"routing": None}).json()["deployment"]["routing"] == "default"


def test_an_unknown_policy_is_a_400_naming_the_valid_ones(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    created = alice.client.post("/v1/deployments", json={"modelName": "chat", "routing": "random"})
    assert created.status_code == 400
    error = created.json()["error"]
    assert error["code"] == "invalid_routing" and "prefix_aware" in error["message"]
    path = f"/v1/deployments/{deploy(alice, 'chat')['deploymentId']}"
    assert alice.client.patch(path, json={"routing": "random"}).json()["error"]["code"] == "invalid_routing"


def test_another_users_deployment_cannot_be_changed(control_plane: Any) -> None:
    live = control_plane()
    alice, bob = sign_up(live, "alice@example.com"), sign_up(live, "bob@example.com")
    path = f"/v1/deployments/{deploy(alice, 'chat')['deploymentId']}"
    assert bob.client.patch(path, json={"routing": "prefix_aware"}).status_code == 404


def test_the_reference_deploy_request_takes_routing_in_its_model_spec(control_plane: Any) -> None:
    alice = sign_up(control_plane(), "alice@example.com")
    body = {"modelName": "ref", "modelSpec": {"routing": "prefix_aware"}}
    response = alice.client.post("/v1/models", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["model"]["routing"] == "prefix_aware"
