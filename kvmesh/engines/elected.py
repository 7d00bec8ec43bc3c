"""The Control Plane's controllers behind leader election: the local deployment controller, and the
Kubernetes workloads controller when this Control Plane drives a cluster."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kvmesh.engines import deployment_rows as rows
from kvmesh.engines.controller import DeploymentController
from kvmesh.engines.leader import ElectedControllers, LeaderLock, Member, lock_for_store
from kvmesh.engines.provider import setting


def kubernetes_providers(settings: object) -> frozenset[str]:
    """Providers whose deployments run on the cluster, so the local controller must leave them alone."""
    from kvmesh.engines.kubernetes.config import PROVIDER, KubernetesSettings
    from kvmesh.engines.kubernetes.manifests import ENGINES

    k8s = KubernetesSettings.from_settings(settings)
    return frozenset({PROVIDER, *ENGINES}) if k8s.engines_on_kubernetes else frozenset({PROVIDER})


def choose_lock(settings: object) -> LeaderLock:
    """`controller_election`: auto (PostgreSQL advisory lock, or a file lock for SQLite) or lease."""
    mode = str(setting(settings, "controller_election", "auto"))
    if mode == "lease":
        from kvmesh.engines.kubernetes.config import KubernetesSettings
        from kvmesh.engines.kubernetes.lease import KubernetesLease

        return KubernetesLease(KubernetesSettings.from_settings(settings))
    database_url = str(setting(settings, "database_url", ""))
    data_dir = Path(str(setting(settings, "data_dir", ".")))
    return lock_for_store(database_url, data_dir)


def build_elected_controllers(
    session_factory: rows.SessionFactory, settings: object, secret: bytes | None
) -> ElectedControllers:
    def members() -> Sequence[Member]:
        local = DeploymentController(session_factory, settings, secret=secret)
        local.skip_providers = kubernetes_providers(settings)
        found: list[Member] = [local]
        from kvmesh.engines.kubernetes.config import KubernetesSettings

        k8s = KubernetesSettings.from_settings(settings)
        if k8s.enabled:
            from kvmesh.engines.kubernetes.workloads import KubernetesWorkloads

            found.append(KubernetesWorkloads(session_factory, k8s, secret=secret))
        return found

    retry = float(setting(settings, "controller_election_interval_s", 1.0))
    return ElectedControllers(choose_lock(settings), members, retry_interval_s=retry)
