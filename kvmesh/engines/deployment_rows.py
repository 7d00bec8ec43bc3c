"""Synchronous store operations of the deployment controller (run in a worker thread, never on the loop)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.engines.provider import RecordedReplica, ReplicaSpec
from kvmesh.store.models import CatalogModel, Deployment, DeploymentEvent, Replica, utcnow
from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY, decrypt_secret

SessionFactory = Callable[[], Session]
CONTROLLED_STATUSES = ("pending", "starting", "ready", "stopping")


@dataclass(frozen=True)
class DeploymentView:
    """A snapshot of one deployment row: what the controller needs to act on it."""

    id: str
    status: str
    provider: str
    replicas_desired: int
    spec: ReplicaSpec


def readable_engine_config(stored: dict[str, Any] | None, secret: bytes | None) -> dict[str, Any]:
    """The engine config with an encrypted upstream key decrypted into `api_key` (in memory only).

    Without the server secret, or with one that cannot decrypt it, the encrypted field stays and the
    external provider reports the problem when it starts the replica.
    """
    config = dict(stored or {})
    token = config.get(ENCRYPTED_UPSTREAM_KEY)
    if isinstance(token, str) and secret is not None:
        with contextlib.suppress(ValueError):
            config["api_key"] = decrypt_secret(secret, token)
            del config[ENCRYPTED_UPSTREAM_KEY]
    return config


def load_controlled(session_factory: SessionFactory, secret: bytes | None = None) -> list[DeploymentView]:
    with session_factory() as session:
        rows = session.execute(
            select(Deployment, CatalogModel)
            .outerjoin(CatalogModel, CatalogModel.id == Deployment.catalog_model_id)
            .where(Deployment.status.in_(CONTROLLED_STATUSES), Deployment.deleted_at.is_(None))
        ).all()
        views = []
        for deployment, catalog in rows:
            source = ""
            if catalog is not None:
                source = catalog.source or (catalog.name if deployment.provider == "vllm" else "")
            spec = ReplicaSpec(
                deployment_id=deployment.id,
                served_name=deployment.served_name,
                model_source=source,
                engine_config=readable_engine_config(deployment.engine_config, secret),
                context_length=catalog.context_length if catalog is not None else 8192,
            )
            views.append(
                DeploymentView(
                    id=deployment.id,
                    status=deployment.status,
                    provider=deployment.provider or "llamacpp",
                    replicas_desired=max(0, deployment.replicas_desired),
                    spec=spec,
                )
            )
        return views


def update_deployment(
    session_factory: SessionFactory,
    deployment_id: str,
    *,
    status: str | None = None,
    last_error: str | None = None,
    event: tuple[str, str] | None = None,
    deleted: bool = False,
    only_if_status: tuple[str, ...] | None = None,
) -> None:
    """Set status / last_error / deleted_at and record an event, in one transaction.

    `only_if_status` guards against overwriting a change made meanwhile (e.g. a delete).
    """
    with session_factory() as session, session.begin():
        deployment = session.get(Deployment, deployment_id)
        if deployment is None:
            return
        if only_if_status is not None and deployment.status not in only_if_status:
            return
        if status is not None:
            deployment.status = status
        if last_error is not None:
            deployment.last_error = last_error
        if deleted:
            deployment.deleted_at = utcnow()
        if event is not None:
            session.add(DeploymentEvent(deployment_id=deployment_id, event_type=event[0], log=event[1]))


def upsert_replica(
    session_factory: SessionFactory,
    deployment_id: str,
    ordinal: int,
    *,
    status: str,
    url: str | None = None,
    pid: int | None = None,
    start_ticks: int | None = None,
    last_error: str | None = None,
    restarted: bool = False,
) -> None:
    with session_factory() as session, session.begin():
        replica = session.execute(
            select(Replica).where(Replica.deployment_id == deployment_id, Replica.ordinal == ordinal)
        ).scalar_one_or_none()
        if replica is None:
            if session.get(Deployment, deployment_id) is None:
                return
            replica = Replica(deployment_id=deployment_id, ordinal=ordinal, restarts=0)
            session.add(replica)
        replica.status = status
        if url is not None:
            replica.url = url
        if status in ("stopped", "failed") or pid is not None:
            replica.pid, replica.pid_start_ticks = pid, start_ticks
        if last_error is not None:
            replica.last_error = last_error
        if restarted:
            replica.restarts = (replica.restarts or 0) + 1


def mark_replicas(
    session_factory: SessionFactory, deployment_id: str, status: str, min_ordinal: int = 0
) -> None:
    """Set the status of every replica row of a deployment with ordinal >= min_ordinal."""
    with session_factory() as session, session.begin():
        replicas = session.execute(
            select(Replica).where(Replica.deployment_id == deployment_id, Replica.ordinal >= min_ordinal)
        ).scalars()
        for replica in replicas:
            replica.status = status
            replica.pid = replica.pid_start_ticks = None


def load_recorded(session_factory: SessionFactory, deployment_id: str) -> list[RecordedReplica]:
    """The replicas the store remembers for a deployment, with the url and process identity of each."""
    with session_factory() as session:
        replicas = session.execute(
            select(Replica).where(Replica.deployment_id == deployment_id).order_by(Replica.ordinal)
        ).scalars()
        return [
            RecordedReplica(r.ordinal, r.url or "", r.pid, r.pid_start_ticks)
            for r in replicas
            if r.status in ("starting", "ready")
        ]


def load_uncontrolled_processes(session_factory: SessionFactory) -> list[tuple[str, RecordedReplica]]:
    """Replica processes still recorded for deployments no longer controlled (stopped, failed, deleted)."""
    with session_factory() as session:
        query = (
            select(Replica)
            .join(Deployment, Deployment.id == Replica.deployment_id)
            .where(
                Replica.pid.is_not(None),
                Replica.pid_start_ticks.is_not(None),
                (Deployment.status.not_in(CONTROLLED_STATUSES)) | Deployment.deleted_at.is_not(None),
            )
        )
        return [
            (r.deployment_id, RecordedReplica(r.ordinal, r.url or "", r.pid, r.pid_start_ticks))
            for r in session.execute(query).scalars()
        ]
