"""`tm logs` over the real HTTP route: pod logs for deployments on the cluster, files for the rest.

A Control Plane configured with a kubeconfig that points at the Kubernetes API stand-in serves
`GET /v1/observability/deployments/{id}/logs`. A `kubernetes` deployment's workload is created by
the real provider (`KubernetesWorkloads.reconcile_once`), so its pods exist in the stand-in; their
log lines come back through the route with the same shape and options as the file-based path.
A local deployment on the same Control Plane still reads its replica log files and never asks
the cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane.records_harness import Account, deploy, sign_up
from kube_api_standin import KubeApiStandIn
from sqlalchemy import update

from kvmesh.engines.kubernetes.manifests import DEPLOYMENT_ID
from kvmesh.engines.kubernetes.workloads import KubernetesWorkloads
from kvmesh.engines.settings import EngineSettings, KubernetesSettings
from kvmesh.store.models import Deployment

NS = "kvmesh-engines"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def api() -> AsyncIterator[KubeApiStandIn]:
    server = KubeApiStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def cluster_cp(
    api: KubeApiStandIn, control_plane: Callable[..., Any], tmp_path: Path
) -> tuple[Any, EngineSettings]:
    """A Control Plane (no controllers) whose Kubernetes settings point at the stand-in."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(api.kubeconfig(NS)))
    engines = EngineSettings(kubernetes=KubernetesSettings(namespace=NS, kubeconfig=str(kubeconfig)))
    live = await asyncio.to_thread(control_plane, engines=engines)
    return live, engines


async def get_logs(account: Account, deployment_id: str, **params: Any) -> Any:
    """The route, called off the event loop the stand-in serves on."""
    path = f"/v1/observability/deployments/{deployment_id}/logs"
    return await asyncio.to_thread(account.client.get, path, params=params)


def log_requests(api: KubeApiStandIn) -> list[str]:
    return [path for method, path, _ in api.requests if method == "GET" and path.endswith("/log")]


async def test_logs_of_a_deployment_on_the_cluster_come_from_its_pods(
    api: KubeApiStandIn, cluster_cp: tuple[Any, EngineSettings]
) -> None:
    live, engines = cluster_cp
    alice, bob = sign_up(live, "alice@example.com"), sign_up(live, "bob@example.com")
    deployment_id = deploy(alice, "on-cluster")["deploymentId"]
    services = live.app.state.services
    with services.session_factory() as session, session.begin():
        session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id)
            .values(provider="kubernetes", replicas_desired=2)
        )
    await KubernetesWorkloads(services.session_factory, engines, secret=services.secret).reconcile_once()
    first, second = (pod["metadata"]["name"] for pod in api.pods(NS, f"{DEPLOYMENT_ID}={deployment_id}"))
    api.pod_logs[first] = (
        "2026-11-29T10:00:00.000000001Z main: server is listening\n2026-11-29T10:00:02Z slot 0 ready"
    )
    api.pod_logs[second] = "2026-11-29T10:00:01Z load model\n2026-11-29T10:00:03Z slot 1 ready"

    everything = await get_logs(alice, deployment_id)
    assert everything.status_code == 200, everything.text
    lines = everything.json()["logs"]
    assert set(lines[0]) == {"timestamp", "message", "source", "offset"}
    pods = [
        (line["timestamp"], line["source"], line["message"]) for line in lines if line["source"] != "events"
    ]
    assert pods == [
        ("2026-11-29T10:00:00Z", first, "main: server is listening"),
        ("2026-11-29T10:00:01Z", second, "load model"),
        ("2026-11-29T10:00:02Z", first, "slot 0 ready"),
        ("2026-11-29T10:00:03Z", second, "slot 1 ready"),
    ]
    assert any(line["message"].startswith("[STARTING]") for line in lines)  # lifecycle events too

    window = {"startTime": "2026-11-29T10:00:00.5Z", "endTime": "2026-11-29T12:00:00Z"}
    newest = await get_logs(alice, deployment_id, **window, limit=2, direction="LOG_DIRECTION_BACKWARD")
    assert [line["message"] for line in newest.json()["logs"]] == ["slot 1 ready", "slot 0 ready"]
    forward = await get_logs(alice, deployment_id, **window, direction="LOG_DIRECTION_FORWARD")
    assert [line["message"] for line in forward.json()["logs"]] == [
        "load model",
        "slot 0 ready",
        "slot 1 ready",
    ]
    again = await get_logs(alice, deployment_id, **window)
    assert again.json() == forward.json()  # stable offsets: `tm logs -f` prints each line once

    asked = len(log_requests(api))
    assert (await get_logs(bob, deployment_id)).status_code == 404
    assert len(log_requests(api)) == asked  # another user's deployment never reaches the cluster


async def test_a_local_deployment_still_reads_its_replica_log_files(
    api: KubeApiStandIn, cluster_cp: tuple[Any, EngineSettings]
) -> None:
    live, _ = cluster_cp
    alice, bob = sign_up(live, "alice@example.com"), sign_up(live, "bob@example.com")
    deployment_id = deploy(alice, "local-one")["deploymentId"]
    folder = live.app.state.services.settings.engine_settings().engines_dir / deployment_id
    folder.mkdir(parents=True)
    (folder / "replica-0.log").write_text(
        "--- 2026-11-29T09:00:00Z llama-server -m x\nload model\nlistening\n"
    )

    response = await get_logs(alice, deployment_id, endTime="2026-11-29T12:00:00Z")
    assert response.status_code == 200, response.text
    assert response.json()["logs"] == [
        {"timestamp": "2026-11-29T09:00:00Z", "message": message, "source": "replica-0", "offset": offset}
        for offset, message in enumerate(
            ["--- 2026-11-29T09:00:00Z llama-server -m x", "load model", "listening"]
        )
    ]
    backward = await get_logs(alice, deployment_id, limit=1, direction="LOG_DIRECTION_BACKWARD")
    assert len(backward.json()["logs"]) == 1
    assert (await get_logs(bob, deployment_id)).status_code == 404
    assert log_requests(api) == []  # the cluster is never asked about a local deployment
