"""Pods as replica rows: what one pod means for routing, and the synchronous store writes that record it.

A replica row's id is the pod's UID, so a row names exactly one pod. Only a pod that is Running,
Ready, not terminating and has an IP is `ready` (the only status the Gateway routes to); any other
pod keeps a row with a status that says why it is not routable, and a pod that is gone, or no longer
carries the deployment's labels, loses its row at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lightkube.resources.core_v1 import Pod
from sqlalchemy import delete, select

from kvmesh.engines.deployment_rows import SessionFactory
from kvmesh.engines.kubernetes.manifests import DEPLOYMENT_ID, ENGINE_PORT
from kvmesh.store.models import Deployment, DeploymentEvent, Replica

OnCluster = Callable[[str], bool]


@dataclass(frozen=True)
class PodReplica:
    """One pod as a replica row: `status` is ready | starting | stopping | failed."""

    uid: str
    name: str
    deployment_id: str
    status: str
    url: str
    reason: str


def pod_replica(pod: Pod) -> PodReplica | None:
    """The replica row a pod stands for; None when it is not a kvmesh engine pod (no deployment label)."""
    meta = pod.metadata
    if meta is None or not meta.uid:
        return None
    deployment_id = (meta.labels or {}).get(DEPLOYMENT_ID, "")
    if not deployment_id:
        return None
    status = pod.status
    phase = status.phase if status is not None else None
    ip = status.podIP if status is not None else None
    ready = (
        any(c.type == "Ready" and c.status == "True" for c in (status.conditions or [])) if status else False
    )
    url = f"http://{ip}:{ENGINE_PORT}/v1" if ip else ""
    name = meta.name or ""
    if meta.deletionTimestamp is not None:
        return PodReplica(meta.uid, name, deployment_id, "stopping", url, f"pod {name} is terminating")
    if phase in ("Failed", "Succeeded"):
        why = (status.reason or phase) if status is not None else phase
        message = (status.message or "") if status is not None else ""
        return PodReplica(meta.uid, name, deployment_id, "failed", "", f"pod {name}: {why} {message}".strip())
    if not ip:
        return PodReplica(meta.uid, name, deployment_id, "starting", "", f"pod {name} has no IP yet")
    if phase == "Running" and ready:
        return PodReplica(meta.uid, name, deployment_id, "ready", url, "")
    return PodReplica(meta.uid, name, deployment_id, "starting", url, f"pod {name} is not ready")


def record_pod(session_factory: SessionFactory, replica: PodReplica, on_cluster: OnCluster) -> None:
    """Insert or update the pod's row (new rows take the lowest free ordinal of their deployment).

    A pod whose deployment is gone, or does not run on the cluster, has no row.
    """
    with session_factory() as session, session.begin():
        row = session.get(Replica, replica.uid)
        deployment = session.get(Deployment, replica.deployment_id)
        if deployment is None or deployment.deleted_at is not None or not on_cluster(deployment.provider):
            if row is not None:
                session.execute(delete(Replica).where(Replica.id == replica.uid))
            return
        if row is None:
            used = set(
                session.scalars(select(Replica.ordinal).where(Replica.deployment_id == replica.deployment_id))
            )
            ordinal = next(i for i in range(len(used) + 1) if i not in used)
            row = Replica(id=replica.uid, deployment_id=replica.deployment_id, ordinal=ordinal, restarts=0)
            session.add(row)
        elif row.deployment_id != replica.deployment_id:
            session.execute(delete(Replica).where(Replica.id == replica.uid))
            return
        row.status, row.url, row.last_error, row.pid = replica.status, replica.url, replica.reason, None
    refresh_status(session_factory, replica.deployment_id)


def forget_pod(session_factory: SessionFactory, uid: str) -> None:
    """Delete the row of a pod that is gone or stopped matching; recompute its deployment's status."""
    with session_factory() as session, session.begin():
        deployment_id = session.scalar(select(Replica.deployment_id).where(Replica.id == uid))
        if deployment_id is None:
            return
        session.execute(delete(Replica).where(Replica.id == uid))
    refresh_status(session_factory, deployment_id)


def replace_pods(
    session_factory: SessionFactory, replicas: Iterable[PodReplica], on_cluster: OnCluster
) -> None:
    """After a (re-)list: rows become exactly the listed pods, for every deployment on the cluster.

    `on_cluster(provider)` says whether deployments of a provider run on this cluster; rows of other
    deployments are never touched.
    """
    listed = {r.uid: r for r in replicas}
    with session_factory() as session:
        deployments = session.execute(select(Deployment.id, Deployment.provider)).all()
    cluster_ids = [d.id for d in deployments if on_cluster(d.provider)]
    with session_factory() as session, session.begin():
        stale = session.scalars(
            select(Replica.id).where(Replica.deployment_id.in_(cluster_ids), Replica.id.not_in(list(listed)))
        ).all()
        if stale:
            session.execute(delete(Replica).where(Replica.id.in_(stale)))
    for replica in listed.values():
        record_pod(session_factory, replica, on_cluster)
    for deployment_id in cluster_ids:
        refresh_status(session_factory, deployment_id)


def refresh_status(session_factory: SessionFactory, deployment_id: str) -> None:
    """starting → ready once as many pods are ready as wanted; ready → starting when none is."""
    with session_factory() as session, session.begin():
        deployment = session.get(Deployment, deployment_id)
        if deployment is None or deployment.status not in ("pending", "starting", "ready"):
            return
        ready = len(
            session.scalars(
                select(Replica.id).where(Replica.deployment_id == deployment_id, Replica.status == "ready")
            ).all()
        )
        wanted = deployment.replicas_desired
        if deployment.status != "ready" and ready >= max(1, wanted):
            deployment.status, deployment.last_error = "ready", ""
            session.add(
                DeploymentEvent(deployment_id=deployment_id, event_type="READY", log=f"{ready} pod(s) ready")
            )
        elif deployment.status == "ready" and ready == 0 and wanted > 0:
            deployment.status = "starting"
            event = DeploymentEvent(
                deployment_id=deployment_id, event_type="NOT_READY", log="no pod is ready"
            )
            session.add(event)
