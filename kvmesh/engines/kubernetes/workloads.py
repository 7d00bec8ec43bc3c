"""Makes the cluster match the deployments table: create, scale and delete Deployments + Services.

It runs beside the local deployment controller (and, like it, only on the elected Control Plane).
A loop wakes every poll interval (or on `wake()`): each controlled deployment that runs on the
cluster gets its Deployment and Service created, its `spec.replicas` patched to `replicas_desired`,
or — once `stopping` — both deleted; Deployments left over from deleted kvmesh deployments are
removed; pod Events become deployment events. Replica rows are the `PodWatcher`'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx2
from lightkube import AsyncClient, codecs
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment as K8sDeployment
from lightkube.resources.core_v1 import Event, Pod, Service
from lightkube.types import PatchType
from sqlalchemy import delete, select

from kvmesh.background import BackgroundTask
from kvmesh.engines import deployment_rows as rows
from kvmesh.engines.kubernetes.config import PROVIDER, make_client
from kvmesh.engines.kubernetes.manifests import (
    DEPLOYMENT_ID,
    ENGINES,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    deployment_manifest,
    service_manifest,
    workload_name,
)
from kvmesh.engines.kubernetes.pod_watch import PodWatcher
from kvmesh.engines.settings import EngineSettings, KubernetesSettings
from kvmesh.store.models import DeploymentEvent, Replica

log = logging.getLogger("kvmesh.engines.kubernetes")
MANAGED: dict[str, Any] = {MANAGED_BY: MANAGED_BY_VALUE}


class KubernetesWorkloads:
    def __init__(
        self,
        session_factory: rows.SessionFactory,
        settings: EngineSettings,
        *,
        secret: bytes | None = None,
        client: AsyncClient | None = None,
    ) -> None:
        self._sessions = session_factory
        self.settings: KubernetesSettings = settings.kubernetes
        self.poll_interval_s = settings.engine_poll_interval_s
        self._secret = secret
        self._client = client
        self._wake = asyncio.Event()
        self._loops: list[BackgroundTask] = []
        self.watcher: PodWatcher | None = None

    def on_cluster(self, provider: str) -> bool:
        """Whether deployments of `provider` run on the cluster (rather than as local processes)."""
        return provider == PROVIDER or (self.settings.engines_on_kubernetes and provider in ENGINES)

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    async def start(self) -> None:
        if self._loops:
            return
        self.watcher = PodWatcher(
            self.client,
            self.settings.namespace,
            self._sessions,
            self.on_cluster,
            backoff_s=self.settings.resync_backoff_s,
            watch_timeout_s=self.settings.watch_timeout_s,
        )
        self._loops = [
            BackgroundTask(self.watcher.run, "kvmesh-k8s-pod-watch"),
            BackgroundTask(self._run, "kvmesh-k8s-workloads"),
        ]
        for loop in self._loops:
            loop.start()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop watching and reconciling; the workloads keep running in the cluster (they outlive us)."""
        loops, self._loops = self._loops, []
        for loop in loops:
            await loop.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.reconcile_once()
            except (ApiError, httpx2.HTTPError, OSError) as exc:
                log.warning("Kubernetes reconcile failed (%s); retrying at the next poll", exc)
            except Exception:
                log.exception("Kubernetes reconcile failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
            self._wake.clear()

    async def reconcile_once(self) -> None:
        views = await asyncio.to_thread(rows.load_controlled, self._sessions, self._secret)
        mine = [view for view in views if self.on_cluster(view.provider)]
        for view in mine:
            if view.status == "stopping":
                await self._remove(view.id)
            else:
                await self._ensure(view)
        live = {view.id for view in mine if view.status != "stopping"}
        async for existing in self.client.list(
            K8sDeployment, namespace=self.settings.namespace, labels=MANAGED
        ):
            labels = (existing.metadata.labels or {}) if existing.metadata is not None else {}
            owner = labels.get(DEPLOYMENT_ID, "")
            if owner and owner not in live:
                log.info("deleting Kubernetes workload of gone deployment %s", owner)
                await self._delete_objects(owner)
        await self._record_events(live)

    async def _ensure(self, view: rows.DeploymentView) -> None:
        name = workload_name(view.id)
        try:
            current = await self.client.get(K8sDeployment, name, namespace=self.settings.namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            await self._create(view)
            return
        wanted = view.replicas_desired
        have = current.spec.replicas if current.spec is not None else None
        if have != wanted:
            patch = {"spec": {"replicas": wanted}}
            await self.client.patch(
                K8sDeployment, name, patch, namespace=self.settings.namespace, patch_type=PatchType.MERGE
            )
            await self._db(rows.update_deployment, view.id, event=("SCALED", f"replicas {have} → {wanted}"))
        if view.status == "pending":
            await self._db(rows.update_deployment, view.id, status="starting", only_if_status=("pending",))

    async def _create(self, view: rows.DeploymentView) -> None:
        try:
            deployment = deployment_manifest(view.spec, view.provider, view.replicas_desired, self.settings)
        except ValueError as exc:
            detail = str(exc)
            await self._db(
                rows.update_deployment,
                view.id,
                status="failed",
                last_error=detail,
                event=("FAILED", detail),
                only_if_status=("pending", "starting", "ready"),
            )
            return
        for manifest in (service_manifest(view.spec, self.settings), deployment):
            with contextlib.suppress(_AlreadyExists):
                await self._create_object(manifest)
        message = f"Kubernetes Deployment {workload_name(view.id)} with {view.replicas_desired} replica(s)"
        await self._db(
            rows.update_deployment,
            view.id,
            status="starting",
            event=("STARTING", message),
            only_if_status=("pending", "starting", "ready"),
        )

    async def _create_object(self, manifest: dict[str, Any]) -> None:
        try:
            await self.client.create(codecs.from_dict(manifest))
        except ApiError as exc:
            if exc.status.code == 409:
                raise _AlreadyExists from exc
            raise

    async def _remove(self, deployment_id: str) -> None:
        await self._delete_objects(deployment_id)
        await self._db(_delete_replica_rows, deployment_id)
        event = ("STOPPED", "Kubernetes Deployment and Service deleted")
        await self._db(rows.update_deployment, deployment_id, status="stopped", deleted=True, event=event)

    async def _delete_objects(self, deployment_id: str) -> None:
        name = workload_name(deployment_id)
        for kind in (K8sDeployment, Service):
            try:
                await self.client.delete(kind, name, namespace=self.settings.namespace)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise

    async def _record_events(self, live: set[str]) -> None:
        """Pod events (scheduling, image pulls, OOM kills, evictions) as deployment events, once each."""
        if not live:
            return
        prefixes = {f"{workload_name(d)}-": d for d in live}
        found: list[tuple[str, str, str]] = []
        listing = self.client.list(
            Event, namespace=self.settings.namespace, fields={"involvedObject.kind": "Pod"}
        )
        async for event in listing:
            pod = event.involvedObject.name or ""
            owner = next((d for prefix, d in prefixes.items() if pod.startswith(prefix)), None)
            if owner is None:
                continue
            count = f" (x{event.count})" if event.count and event.count > 1 else ""
            text = f"{pod}: {event.reason}: {event.message or ''}{count}".strip()
            found.append((owner, f"K8S_{(event.reason or 'EVENT').upper()}"[:60], text))
        if found:
            await self._db(_add_new_events, found)

    async def pod_logs(self, deployment_id: str, tail_lines: int = 200) -> list[tuple[str, str]]:
        """(timestamp, line) pairs from every pod of the deployment, oldest first."""
        labels: dict[str, Any] = {MANAGED_BY: MANAGED_BY_VALUE, DEPLOYMENT_ID: deployment_id}
        lines: list[tuple[str, str]] = []
        async for pod in self.client.list(Pod, namespace=self.settings.namespace, labels=labels):
            name = pod.metadata.name if pod.metadata is not None else None
            if not name:
                continue
            with contextlib.suppress(ApiError):
                stream = self.client.log(
                    name,
                    namespace=self.settings.namespace,
                    tail_lines=tail_lines,
                    timestamps=True,
                    newlines=False,
                )
                async for line in stream:
                    stamp, _, text = line.partition(" ")
                    lines.append((stamp, f"{name}: {text}"))
        return sorted(lines)

    async def _db(self, func: Any, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(func, self._sessions, *args, **kwargs)


class _AlreadyExists(Exception):
    pass


def _delete_replica_rows(session_factory: rows.SessionFactory, deployment_id: str) -> None:
    with session_factory() as session, session.begin():
        session.execute(delete(Replica).where(Replica.deployment_id == deployment_id))


def _add_new_events(session_factory: rows.SessionFactory, found: list[tuple[str, str, str]]) -> None:
    with session_factory() as session, session.begin():
        for deployment_id, kind, text in found:
            exists = session.scalar(
                select(DeploymentEvent.id).where(
                    DeploymentEvent.deployment_id == deployment_id, DeploymentEvent.log == text
                )
            )
            if exists is None:
                session.add(DeploymentEvent(deployment_id=deployment_id, event_type=kind, log=text))
