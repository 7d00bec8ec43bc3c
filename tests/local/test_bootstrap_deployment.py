"""`tm local up --replicas N --routing P`: the embedded deployment is created, resized and re-routed
through a real Control Plane."""

from __future__ import annotations

from typing import Any

import pytest
from controlplane.records_harness import sign_up

from kvmesh.local.bootstrap import ensure_deployment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _embedded(account: Any) -> list[dict[str, Any]]:
    return list(account.client.get("/v1/deployments").json()["deployments"])


def test_replicas_and_routing_reach_the_embedded_deployment(control_plane: Any) -> None:
    live = control_plane()
    owner = sign_up(live, "owner@example.com", admin=True)
    token = owner.tokens["access_token"]
    first = ensure_deployment(live.base_url, token, {"parallel": 2}, replicas=2, routing="prefix_aware")
    [record] = _embedded(owner)
    assert (record["deploymentId"], record["replicas"], record["routing"]) == (first, 2, "prefix_aware")

    same = ensure_deployment(live.base_url, token, {"parallel": 2}, replicas=2, routing="session_affinity")
    [record] = _embedded(owner)
    assert same == first and record["routing"] == "session_affinity"  # changed in place

    resized = ensure_deployment(live.base_url, token, {"parallel": 2}, replicas=3)
    [record] = _embedded(owner)
    assert resized != first and record["replicas"] == 3  # a new deployment of the new size
