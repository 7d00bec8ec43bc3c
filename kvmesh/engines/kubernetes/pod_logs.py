"""A deployment's pod logs: the timestamped lines of every pod labelled with its deployment id."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Pod

from kvmesh.engines.kubernetes.manifests import DEPLOYMENT_ID, MANAGED_BY, MANAGED_BY_VALUE


@dataclass(frozen=True)
class PodLogLine:
    pod: str
    stamp: str  # the kubelet's RFC 3339 timestamp (nanoseconds), as `timestamps=true` prefixes it
    text: str


async def read_pod_logs(
    client: AsyncClient,
    namespace: str,
    deployment_id: str,
    *,
    tail_lines: int,
    since_s: int | None = None,
) -> list[PodLogLine]:
    """The newest `tail_lines` of each pod (no older than `since_s` seconds), oldest first.

    A pod whose log cannot be read (its container not started yet, already gone) is skipped.
    """
    labels: dict[str, Any] = {MANAGED_BY: MANAGED_BY_VALUE, DEPLOYMENT_ID: deployment_id}
    lines: list[PodLogLine] = []
    async for pod in client.list(Pod, namespace=namespace, labels=labels):
        name = pod.metadata.name if pod.metadata is not None else None
        if not name:
            continue
        with contextlib.suppress(ApiError):
            stream = client.log(
                name,
                namespace=namespace,
                tail_lines=tail_lines,
                since=since_s,
                timestamps=True,
                newlines=False,
            )
            async for line in stream:
                stamp, _, text = line.partition(" ")
                lines.append(PodLogLine(name, stamp, text))
    return sorted(lines, key=lambda line: (line.stamp, line.pod))
