"""Where a deployment's log lines come from, chosen per deployment: local engine log files or pods.

`DeploymentLogs.read` is the one seam the logs route calls. Every deployment's lifecycle events are
included; its replicas' lines come from the `LogSource` its provider calls for: the engine log files
under `<data dir>/engines` for local replicas (`replica_logs.py`), or the pods' logs through the
Kubernetes API for deployments that run on the cluster (the same rule the controllers use,
`engines.elected.kubernetes_providers`). The window (start, end) and the newest-`limit` cut apply
to both alike.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import anyio.from_thread

from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.replica_logs import LogLine, event_lines, replica_file_lines
from kvmesh.controlplane.rfc3339 import parse_rfc3339
from kvmesh.engines.settings import EngineSettings, KubernetesSettings
from kvmesh.store.models import Deployment

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from kvmesh.engines.kubernetes.pod_logs import PodLogLine

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
POD_TAIL_LINES = 10_000  # per pod, when an endTime makes the newest `limit` lines not enough


@dataclass(frozen=True)
class LogWindow:
    start: datetime | None
    end: datetime | None
    limit: int

    def holds(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment <= self.end)


class LogSource(Protocol):
    def replica_lines(self, deployment: Deployment, window: LogWindow) -> list[LogLine]:
        """The deployment's replica lines; at least every line in `window` among the newest `limit`."""
        ...


@dataclass(frozen=True)
class EngineLogFiles:
    """Local replicas: `<engines dir>/<deployment id>/replica-<n>.log`."""

    engines_dir: Path

    def replica_lines(self, deployment: Deployment, window: LogWindow) -> list[LogLine]:
        return replica_file_lines(self.engines_dir, deployment)


class PodLogs:
    """Deployments on the cluster: their pods' logs, read with this Control Plane's Kubernetes settings.

    `replica_lines` runs in a worker thread of the app (a sync route); the Kubernetes client lives
    on the app's event loop, where the reads run.
    """

    def __init__(self, settings: KubernetesSettings, client: AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client

    def replica_lines(self, deployment: Deployment, window: LogWindow) -> list[LogLine]:
        tail = window.limit if window.end is None else max(window.limit, POD_TAIL_LINES)
        since_s = None
        if window.start is not None:
            since_s = max(1, math.ceil((datetime.now(UTC) - window.start).total_seconds()) + 1)
        found = anyio.from_thread.run(self._read, deployment.id, tail, since_s)
        return _as_log_lines(found)

    async def _read(self, deployment_id: str, tail: int, since_s: int | None) -> list[PodLogLine]:
        import httpx2
        from lightkube.core.exceptions import ApiError as KubeApiError

        from kvmesh.engines.kubernetes.config import KubernetesConfigError, make_client
        from kvmesh.engines.kubernetes.pod_logs import read_pod_logs

        try:
            if self._client is None:
                self._client = make_client(self.settings)
            return await read_pod_logs(
                self._client, self.settings.namespace, deployment_id, tail_lines=tail, since_s=since_s
            )
        except (KubernetesConfigError, KubeApiError, httpx2.HTTPError, OSError) as exc:
            raise ApiError(503, f"cannot read the pods' logs: {exc}", "logs_unavailable") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def _as_log_lines(found: list[PodLogLine]) -> list[LogLine]:
    """Pod lines as log lines: `source` is the pod, `offset` the line's time in microseconds since the
    epoch (stable from one read to the next, unlike a position in a tail)."""
    out: list[LogLine] = []
    moment = datetime.now(UTC)
    for line in found:
        with contextlib.suppress(ValueError):  # no kubelet timestamp: the previous line's time
            moment = parse_rfc3339(line.stamp)
        out.append(LogLine(moment, line.text, line.pod, (moment - EPOCH) // MICROSECOND))
    return out


class DeploymentLogs:
    """Picks each deployment's log source and reads its lines in a window."""

    def __init__(self, settings: EngineSettings, *, pods: PodLogs | None = None) -> None:
        from kvmesh.engines.elected import kubernetes_providers

        self.files = EngineLogFiles(settings.engines_dir)
        self.pods = pods if pods is not None else PodLogs(settings.kubernetes)
        self.on_cluster = kubernetes_providers(settings)

    def source_for(self, deployment: Deployment) -> LogSource:
        return self.pods if deployment.provider in self.on_cluster else self.files

    def read(self, deployment: Deployment, window: LogWindow) -> list[LogLine]:
        """The newest `window.limit` lines in the window (events and replicas), oldest first."""
        lines = event_lines(deployment) + self.source_for(deployment).replica_lines(deployment, window)
        inside = sorted(
            (line for line in lines if window.holds(line.moment)),
            key=lambda line: (line.moment, line.source, line.offset),
        )
        return inside[-window.limit :]

    async def close(self) -> None:
        await self.pods.close()
