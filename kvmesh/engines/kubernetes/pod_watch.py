"""The pod watch that keeps replica rows exact: list, then watch from the list's resourceVersion.

Every event is written to the store as it arrives (ready → routable; not ready, terminating,
evicted/no IP → not routable; deleted or relabelled out of the selector → row removed). When the
watch expires (410 Gone) or breaks in any other way, the watcher lists again and replaces the rows
with exactly what the list says. While the API server cannot be reached the rows stay as they were
(the pods may well still be serving); the first successful list afterwards reconciles them.
"""

from __future__ import annotations

import asyncio
import logging

import httpx2
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Pod

from kvmesh.engines.deployment_rows import SessionFactory
from kvmesh.engines.kubernetes import pod_rows
from kvmesh.engines.kubernetes.manifests import MANAGED_BY, MANAGED_BY_VALUE

log = logging.getLogger("kvmesh.engines.kubernetes")


class PodWatcher:
    """Runs list + watch until cancelled; `relists` counts full lists (for tests and metrics)."""

    def __init__(
        self,
        client: AsyncClient,
        namespace: str,
        session_factory: SessionFactory,
        on_cluster: pod_rows.OnCluster,
        *,
        backoff_s: float = 1.0,
        backoff_cap_s: float = 15.0,
        watch_timeout_s: int = 300,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._sessions = session_factory
        self._on_cluster = on_cluster
        self._backoff_s = backoff_s
        self._backoff_cap_s = backoff_cap_s
        self._watch_timeout_s = watch_timeout_s
        self.relists = 0
        self.connected = asyncio.Event()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                version = await self._relist()
                failures = 0
                await self._watch(version)
            except ApiError as exc:
                code = exc.status.code if exc.status is not None else None
                if code == 410:
                    log.info("pod watch expired (410 Gone); listing again")
                    continue
                failures += 1
                log.warning("pod watch failed: %s; listing again", exc)
            except (httpx2.HTTPError, OSError) as exc:
                failures += 1
                self.connected.clear()
                log.warning("Kubernetes API unreachable (%s); replica rows kept until it is back", exc)
            except Exception:
                failures += 1
                log.exception("pod watch failed; listing again")
            delay = min(self._backoff_cap_s, self._backoff_s * 2 ** max(0, failures - 1))
            await asyncio.sleep(delay if failures else 0)

    async def _relist(self) -> str:
        listing = self._client.list(Pod, namespace=self._namespace, labels={MANAGED_BY: MANAGED_BY_VALUE})
        pods = [pod async for pod in listing]
        version = listing.resourceVersion
        replicas = [r for r in (pod_rows.pod_replica(p) for p in pods) if r is not None]
        await asyncio.to_thread(pod_rows.replace_pods, self._sessions, replicas, self._on_cluster)
        self.relists += 1
        self.connected.set()
        return version

    async def _watch(self, version: str) -> None:
        """Apply events until the stream ends for good (lightkube resumes a stream the server closed)."""
        stream = self._client.watch(
            Pod,
            namespace=self._namespace,
            labels={MANAGED_BY: MANAGED_BY_VALUE},
            resource_version=version,
            server_timeout=self._watch_timeout_s,
        )
        async for kind, pod in stream:
            await asyncio.to_thread(self._apply, kind, pod)

    def _apply(self, kind: str, pod: Pod) -> None:
        replica = pod_rows.pod_replica(pod)
        uid = pod.metadata.uid if pod.metadata is not None else None
        if kind == "DELETED" or replica is None:
            if uid:
                pod_rows.forget_pod(self._sessions, uid)
            return
        pod_rows.record_pod(self._sessions, replica, self._on_cluster)
