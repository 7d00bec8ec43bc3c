"""Per-user quotas: caps on live deployments and replicas (403 quota_exceeded), admin overrides."""

from __future__ import annotations

import uuid
from typing import Any

from records_harness import deploy, sign_up


def test_deployments_past_the_cap_are_403_and_a_deleted_one_frees_its_slot(control_plane: Any) -> None:
    live = control_plane(max_deployments_per_user=2)
    alice = sign_up(live, "alice@example.com")
    first = deploy(alice, "one")
    deploy(alice, "two")
    refused = alice.client.post("/v1/deployments", json={"modelName": "three"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded" and "2 of 2 deployments" in error["message"]
    assert alice.client.delete(f"/v1/deployments/{first['deploymentId']}").status_code == 200
    deploy(alice, "three")


def test_replicas_past_the_cap_are_403_on_both_create_surfaces(control_plane: Any) -> None:
    live = control_plane(max_replicas_per_user=3)
    bob = sign_up(live, "bob@example.com")
    deploy(bob, "two-replicas", replicas=2)
    refused = bob.client.post("/v1/deployments", json={"modelName": "more", "replicas": 2})
    assert refused.status_code == 403 and "2 of 3 replicas" in refused.json()["error"]["message"]
    tensormesh = bob.client.post(
        "/v1/models", json={"modelName": "more", "modelSpec": {"replicas": 2}, "userId": bob.user_id}
    )
    assert tensormesh.status_code == 403 and tensormesh.json()["error"]["code"] == "quota_exceeded"
    deploy(bob, "one-more", replicas=1)


def test_admin_override_raises_one_users_cap_and_null_clears_it(control_plane: Any) -> None:
    live = control_plane(max_deployments_per_user=1)
    admin = sign_up(live, "admin@example.com", admin=True)
    carol = sign_up(live, "carol@example.com")
    deploy(carol, "first")
    url = f"/v1/admin/users/{carol.user_id}/quotas"
    assert admin.client.get(url).json()["maxConcurrentRequests"] is None  # each Gateway's setting
    raised = admin.client.put(url, json={"maxDeployments": 2, "maxConcurrentRequests": 3})
    assert raised.status_code == 200, raised.text
    view = raised.json()
    assert (view["maxDeployments"], view["maxConcurrentRequests"], view["deploymentsInUse"]) == (2, 3, 1)
    assert sorted(view["overridden"]) == ["maxConcurrentRequests", "maxDeployments"]
    deploy(carol, "second")
    cleared = admin.client.put(url, json={"maxDeployments": None}).json()
    assert cleared["maxDeployments"] == 1 and cleared["overridden"] == ["maxConcurrentRequests"]


def test_quota_routes_are_admin_only(control_plane: Any) -> None:
    live = control_plane()
    dave = sign_up(live, "dave@example.com")
    url = f"/v1/admin/users/{dave.user_id}/quotas"
    assert dave.client.get(url).status_code == 403
    assert dave.client.put(url, json={"maxDeployments": 100}).status_code == 403
    admin = sign_up(live, "admin@example.com", admin=True)
    assert admin.client.get(f"/v1/admin/users/{uuid.uuid4()}/quotas").status_code == 404
    assert admin.client.put(url, json={"maxDeployments": -1}).status_code in (400, 422)
