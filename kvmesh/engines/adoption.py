"""Taking over the engine replicas an earlier controller left running, and stopping orphaned ones.

Identity is pid + kernel start time + `--port <recorded port>` on the command line, all recorded
in the replica row; see docs/engine-processes.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field

from kvmesh.engines import deployment_rows as rows
from kvmesh.engines.process_identity import processes_with_env, stop_recorded_process
from kvmesh.engines.provider import REPLICA_ENV, EngineProvider, RecordedReplica, ReplicaHandle

log = logging.getLogger("kvmesh.engines")


@dataclass
class Adoption:
    """What adoption found: running replicas by ordinal, and recorded ones whose process is gone."""

    handles: dict[int, ReplicaHandle] = field(default_factory=dict)
    lost: list[RecordedReplica] = field(default_factory=list)

    def describe(self) -> str:
        names = [f"{o} (pid {h.pid})" if h.pid else str(o) for o, h in sorted(self.handles.items())]
        return f"adopted running replica(s) {', '.join(names)}"


async def adopt_recorded(
    provider: EngineProvider, view: rows.DeploymentView, session_factory: rows.SessionFactory
) -> Adoption:
    """Ask the provider to adopt every replica the store records for `view` (no store writes here)."""
    recorded = await asyncio.to_thread(rows.load_recorded, session_factory, view.id)
    adoption = Adoption()
    for record in recorded:
        handle = await provider.adopt_replica(view.spec, record)
        if handle is not None:
            adoption.handles[record.ordinal] = handle
        elif record.pid is not None:
            adoption.lost.append(record)
    return adoption


def lost_detail(record: RecordedReplica) -> str:
    return f"replica {record.ordinal} (pid {record.pid}) ended while no controller watched it"


def stop_uncontrolled_processes(session_factory: rows.SessionFactory) -> None:
    """Stop engines still recorded for deployments that were stopped or deleted while no controller ran."""
    for deployment_id, record in rows.load_uncontrolled_processes(session_factory):
        assert record.pid is not None and record.start_ticks is not None
        port = record.url.removesuffix("/v1").rsplit(":", 1)[-1]
        if stop_recorded_process(record.pid, record.start_ticks, f"--port {port}"):
            log.info(
                "stopped engine pid %s of deployment %s (no longer controlled)", record.pid, deployment_id
            )
        rows.upsert_replica(session_factory, deployment_id, record.ordinal, status="stopped")


def stop_unrecorded_engines(deployment_id: str, adopted_pids: set[int]) -> list[int]:
    """Stop engines launched for this deployment that no replica row records (their Control Plane
    died while they were starting); returns their pids. The KVMESH_REPLICA tag in their environment,
    which holds the deployment's id, is what identifies them."""
    stopped = []
    for pid, ticks in processes_with_env(REPLICA_ENV, f"{deployment_id}/"):
        if pid in adopted_pids or not _leads_its_session(pid):
            continue  # an engine's own workers inherit the tag; its session leader is the engine
        if stop_recorded_process(pid, ticks):
            log.info("stopped unrecorded engine pid %s of deployment %s", pid, deployment_id)
            stopped.append(pid)
    return stopped


def _leads_its_session(pid: int) -> bool:
    try:
        return os.getsid(pid) == pid
    except OSError:
        return False
