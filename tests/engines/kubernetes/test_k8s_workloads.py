"""The kubernetes provider driven through the real lightkube client against the API stand-in.

Each test builds the provider from a kubeconfig file that points at the stand-in (the kubeconfig path
of `make_client`), inserts a deployment row, and plays the cluster's part (pods going ready, not
ready, terminating, evicted, relabelled, deleted; watch expiry; API server down) through the
stand-in's controls. Rows are read back from the real store the Gateway reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_api_standin import KubeApiStandIn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.engines.kubernetes.manifests import DEPLOYMENT_ID, workload_name
from kvmesh.engines.kubernetes.workloads import KubernetesWorkloads
from kvmesh.engines.settings import EngineSettings, KubernetesSettings
from kvmesh.store.models import Deployment, DeploymentEvent, Replica

NS = "kvmesh-engines"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def api() -> AsyncIterator[KubeApiStandIn]:
    server = KubeApiStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def workloads(
    api: KubeApiStandIn, session_factory: sessionmaker[Session], tmp_path: Path
) -> AsyncIterator[KubernetesWorkloads]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(api.kubeconfig(NS)))
    kubernetes = KubernetesSettings(
        namespace=NS, kubeconfig=str(kubeconfig), resync_backoff_s=0.1, watch_timeout_s=30
    )
    settings = EngineSettings(engine_poll_interval_s=0.2, kubernetes=kubernetes)
    provider = KubernetesWorkloads(session_factory, settings)
    await provider.start()
    yield provider
    await provider.stop()


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(0.05)


def replica_rows(sessions: sessionmaker[Session], deployment_id: str) -> dict[str, tuple[str, str]]:
    """{pod uid: (status, url)} for every replica row of the deployment."""
    with sessions() as session:
        found = session.scalars(select(Replica).where(Replica.deployment_id == deployment_id)).all()
        return {row.id: (row.status, row.url) for row in found}


def routable(sessions: sessionmaker[Session], deployment_id: str) -> set[str]:
    return {uid for uid, (status, _) in replica_rows(sessions, deployment_id).items() if status == "ready"}


def deployment_status(sessions: sessionmaker[Session], deployment_id: str) -> str:
    with sessions() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status


async def ready_pods(api: KubeApiStandIn, deployment_id: str, count: int) -> list[dict[str, Any]]:
    """Wait for `count` pods of the deployment and make each Ready with its own IP (the kubelet's part)."""
    selector = f"{DEPLOYMENT_ID}={deployment_id}"
    pods = await eventually(lambda: len(api.pods(NS, selector)) == count and api.pods(NS, selector))
    for index, pod in enumerate(pods):
        await api.set_pod_ready(NS, pod["metadata"]["name"], f"10.1.0.{index + 10}")
    return list(pods)


def uid(pod: dict[str, Any]) -> str:
    return str(pod["metadata"]["uid"])


async def test_deployment_becomes_a_kubernetes_deployment_and_service_with_engine_args(
    api: KubeApiStandIn, workloads: KubernetesWorkloads, add_deployment: Callable[..., str]
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=2, engine_config={"engine": "llamacpp"})
    name = workload_name(deployment_id)
    created = await eventually(lambda: api.objects.get(("deployments", NS, name)))
    assert ("services", NS, name) in api.objects
    assert created["spec"]["replicas"] == 2
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][container["args"].index("--host") + 1] == "0.0.0.0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert created["spec"]["template"]["metadata"]["labels"][DEPLOYMENT_ID] == deployment_id


async def test_ready_pods_become_routable_rows_and_the_deployment_ready(
    api: KubeApiStandIn,
    workloads: KubernetesWorkloads,
    add_deployment: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=2)
    pods = await ready_pods(api, deployment_id, 2)
    await eventually(lambda: routable(session_factory, deployment_id) == {uid(p) for p in pods})
    rows = replica_rows(session_factory, deployment_id)
    assert {url for _, url in rows.values()} == {"http://10.1.0.10:8080/v1", "http://10.1.0.11:8080/v1"}
    await eventually(lambda: deployment_status(session_factory, deployment_id) == "ready")


async def test_not_ready_terminating_evicted_relabelled_and_deleted_pods_stop_being_routable(
    api: KubeApiStandIn,
    workloads: KubernetesWorkloads,
    add_deployment: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=5)
    pods = await ready_pods(api, deployment_id, 5)
    await eventually(lambda: len(routable(session_factory, deployment_id)) == 5)
    names = [p["metadata"]["name"] for p in pods]
    await api.set_pod_ready(NS, names[0], "10.1.0.10", ready=False)
    await api.terminate_pod(NS, names[1])
    await api.evict_pod(NS, names[2])
    await api.relabel_pod(NS, names[3], {"app": "something-else"})
    await api.delete_pod(NS, names[4])
    await eventually(lambda: not routable(session_factory, deployment_id))
    rows = replica_rows(session_factory, deployment_id)
    assert rows[uid(pods[0])][0] == "starting"
    assert rows[uid(pods[1])][0] == "stopping"
    assert rows[uid(pods[2])] == ("failed", "")
    assert uid(pods[3]) not in rows and uid(pods[4]) not in rows


async def test_scale_follows_replicas_desired(
    api: KubeApiStandIn,
    workloads: KubernetesWorkloads,
    add_deployment: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=1)
    await ready_pods(api, deployment_id, 1)
    with session_factory() as session, session.begin():
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.replicas_desired = 3
    workloads.wake()
    name = workload_name(deployment_id)
    await eventually(lambda: api.objects[("deployments", NS, name)]["spec"]["replicas"] == 3)
    await eventually(lambda: len(replica_rows(session_factory, deployment_id)) == 3)


async def test_stopping_deployment_deletes_workload_and_rows(
    api: KubeApiStandIn,
    workloads: KubernetesWorkloads,
    add_deployment: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=2)
    await ready_pods(api, deployment_id, 2)
    await eventually(lambda: len(routable(session_factory, deployment_id)) == 2)
    with session_factory() as session, session.begin():
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.status = "stopping"
    workloads.wake()
    name = workload_name(deployment_id)
    await eventually(lambda: deployment_status(session_factory, deployment_id) == "stopped")
    assert ("deployments", NS, name) not in api.objects
    assert ("services", NS, name) not in api.objects
    assert not api.pods(NS, f"{DEPLOYMENT_ID}={deployment_id}")
    assert replica_rows(session_factory, deployment_id) == {}


async def test_expired_watch_410_is_relisted_and_misses_nothing(
    api: KubeApiStandIn,
    workloads: KubernetesWorkloads,
    add_deployment: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=2)
    pods = await ready_pods(api, deployment_id, 2)
    await eventually(lambda: len(routable(session_factory, deployment_id)) == 2)
    assert workloads.watcher is not None
    before = workloads.watcher.relists
    api.compact()  # history gone: resuming the watch from its resourceVersion now answers 410
    await api.drop_watches()
    await api.delete_pod(NS, pods[0]["metadata"]["name"])  # happens while no watch is open
    await eventually(lambda: workloads.watcher is not None and workloads.watcher.relists > before)
    await eventually(lambda: routable(session_factory, deployment_id) == {uid(pods[1])})


async def test_api_server_unreachable_keeps_rows_then_reconciles(
    api: KubeApiStandIn,
    workloads: KubernetesWorkloads,
    add_deployment: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=2)
    pods = await ready_pods(api, deployment_id, 2)
    await eventually(lambda: len(routable(session_factory, deployment_id)) == 2)
    await api.stop()
    api.objects.pop(("pods", NS, pods[0]["metadata"]["name"]))  # changes the cluster made meanwhile
    api.compact()
    await asyncio.sleep(1.0)
    assert routable(session_factory, deployment_id) == {uid(p) for p in pods}
    await api.start()
    await eventually(lambda: routable(session_factory, deployment_id) == {uid(pods[1])})


async def test_pod_events_become_deployment_events(
    api: KubeApiStandIn,
    workloads: KubernetesWorkloads,
    add_deployment: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=1)
    pods = await ready_pods(api, deployment_id, 1)
    api.add_event(NS, pods[0]["metadata"]["name"], "OOMKilling", "Memory cgroup out of memory", "Warning")

    def recorded() -> list[str]:
        with session_factory() as session:
            return list(
                session.scalars(
                    select(DeploymentEvent.event_type).where(DeploymentEvent.deployment_id == deployment_id)
                )
            )

    await eventually(lambda: "K8S_OOMKILLING" in recorded())
    await asyncio.sleep(0.5)  # later reconciles do not record it again
    assert recorded().count("K8S_OOMKILLING") == 1


async def test_pod_logs_come_from_the_pods(
    api: KubeApiStandIn, workloads: KubernetesWorkloads, add_deployment: Callable[..., str]
) -> None:
    deployment_id = add_deployment(provider="kubernetes", replicas=1)
    pods = await ready_pods(api, deployment_id, 1)
    name = pods[0]["metadata"]["name"]
    api.pod_logs[name] = "2026-11-29T10:00:00Z main: server is listening\n2026-11-29T10:00:01Z slot 0 ready"
    lines = await workloads.pod_logs(deployment_id, tail_lines=1)
    assert lines == [("2026-11-29T10:00:01Z", f"{name}: slot 0 ready")]
