"""The Control Plane's controllers behind leader election: the local deployment controller, and the
Kubernetes workloads controller when this Control Plane drives a cluster."""

from __future__ import annotations

from collections.abc import Sequence

from kvmesh.engines import deployment_rows as rows
from kvmesh.engines.controller import DeploymentController
from kvmesh.engines.leader import ElectedControllers, LeaderLock, Member, lock_for_store
from kvmesh.engines.settings import EngineSettings


def kubernetes_providers(settings: EngineSettings) -> frozenset[str]:
    """Providers whose deployments run on the cluster, so the local controller must leave them alone."""
    from kvmesh.engines.kubernetes.config import PROVIDER
    from kvmesh.engines.kubernetes.manifests import ENGINES

    return (
        frozenset({PROVIDER, *ENGINES})
        if settings.kubernetes.engines_on_kubernetes
        else frozenset({PROVIDER})
    )


def choose_lock(database_url: str, settings: EngineSettings) -> LeaderLock:
    """`controller_election`: auto (PostgreSQL advisory lock, or a file lock for SQLite) or lease."""
    if settings.controller_election == "lease":
        from kvmesh.engines.kubernetes.lease import KubernetesLease

        return KubernetesLease(settings.kubernetes)
    return lock_for_store(database_url, settings.engines_dir.parent)  # the file lock: in the data dir


def build_elected_controllers(
    session_factory: rows.SessionFactory, database_url: str, settings: EngineSettings, secret: bytes | None
) -> ElectedControllers:
    """The controllers this Control Plane runs while it is the elected one (`settings.data_dir` set)."""

    def members() -> Sequence[Member]:
        local = DeploymentController(session_factory, settings, secret=secret)
        local.skip_providers = kubernetes_providers(settings)
        found: list[Member] = [local]
        from kvmesh.engines.kubernetes.config import drives_cluster

        if drives_cluster(settings.kubernetes):
            from kvmesh.engines.kubernetes.workloads import KubernetesWorkloads

            found.append(KubernetesWorkloads(session_factory, settings, secret=secret))
        return found

    retry = settings.controller_election_interval_s
    return ElectedControllers(choose_lock(database_url, settings), members, retry_interval_s=retry)
