"""The one engine-provider interface (async everywhere) and the table of providers by name.

A provider turns a `ReplicaSpec` into a running OpenAI-compatible endpoint (`ReplicaHandle.url`,
always the `/v1` base) and can stop it, check it and describe it. The controller only ever
talks to this interface; which provider serves a deployment is `deployments.provider`.
"""

from __future__ import annotations

import asyncio
import importlib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kvmesh.engines.process_identity import is_same_process, process_start_ticks, stop_recorded_process
from kvmesh.engines.processes import EngineStartError, http_ok, launch, terminate, wait_until_healthy
from kvmesh.engines.settings import EngineSettings

__all__ = [
    "PROVIDERS",
    "EngineProvider",
    "EngineStartError",
    "LocalProcessProvider",
    "RecordedReplica",
    "ReplicaHandle",
    "ReplicaSpec",
    "UnknownProviderError",
    "create_provider",
]


@dataclass(frozen=True)
class ReplicaSpec:
    """What to run: taken from a deployment row, its catalog model and its engine_config."""

    deployment_id: str
    served_name: str
    model_source: str = ""
    engine_config: Mapping[str, Any] = field(default_factory=dict)
    context_length: int = 8192


@dataclass(frozen=True)
class RecordedReplica:
    """What the store remembers of a replica a previous Control Plane started (for adoption)."""

    ordinal: int
    url: str
    pid: int | None = None
    start_ticks: int | None = None


@dataclass
class ReplicaHandle:
    """A started replica. `process` is set only for engines this process launched.

    An adopted engine (started by an earlier Control Plane) has `pid` and `start_ticks` but no
    `process`: it is checked and stopped by that identity, never by a bare pid.
    """

    provider: str
    deployment_id: str
    ordinal: int
    url: str
    pid: int | None = None
    start_ticks: int | None = None
    log_path: Path | None = None
    command: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def root_url(self) -> str:
        """The server root (the OpenAI base without its trailing `/v1`)."""
        return self.url.removesuffix("/").removesuffix("/v1")

    @property
    def port_marker(self) -> str:
        """A string the engine's command line holds: `--port <its port>`."""
        return f"--port {self.root_url.rsplit(':', 1)[-1]}"

    def exited(self) -> int | None:
        """The exit status once the engine process has ended, else None (None too for no process).

        An adopted engine is not our child, so its status is unknown: -1 once it is gone.
        """
        if self.process is not None:
            return self.process.poll()
        if self.pid is not None and self.start_ticks is not None:
            return None if is_same_process(self.pid, self.start_ticks, self.port_marker) else -1
        return None


class EngineProvider(Protocol):
    name: str

    async def start_replica(self, spec: ReplicaSpec, ordinal: int) -> ReplicaHandle:
        """Start replica `ordinal` and return once it answers health checks (EngineStartError otherwise)."""
        ...

    async def stop_replica(self, handle: ReplicaHandle) -> None: ...

    async def adopt_replica(self, spec: ReplicaSpec, recorded: RecordedReplica) -> ReplicaHandle | None:
        """A handle on a replica an earlier Control Plane started, if it still runs (else None)."""
        ...

    async def check_health(self, handle: ReplicaHandle) -> bool: ...

    async def describe(self, handle: ReplicaHandle) -> dict[str, Any]: ...


REPLICA_ENV = "KVMESH_REPLICA"


def replica_tag(deployment_id: str, ordinal: int) -> str:
    """The value of KVMESH_REPLICA in an engine's environment: finds engines the store never recorded
    (a Control Plane killed while they were starting)."""
    return f"{deployment_id}/{ordinal}"


class LocalProcessProvider:
    """Stop, adopt and health-check for providers whose replicas are processes this host launched.

    `stop_grace_s` is how long a replica gets between SIGTERM and SIGKILL. Stopping and adopting
    go by identity (pid + start time + `--port` marker), so an engine an earlier Control Plane
    started is handled too and a recycled pid is never signalled.
    """

    name: str
    settings: EngineSettings
    stop_grace_s = 5.0

    async def stop_replica(self, handle: ReplicaHandle) -> None:
        await stop_engine_process(handle, grace_s=self.stop_grace_s)

    async def adopt_replica(self, spec: ReplicaSpec, recorded: RecordedReplica) -> ReplicaHandle | None:
        log_path = self.settings.engines_dir / spec.deployment_id / f"replica-{recorded.ordinal}.log"
        return adopt_engine_process(self.name, spec, recorded, log_path)

    async def check_health(self, handle: ReplicaHandle) -> bool:
        if handle.exited() is not None:
            return False
        return await http_ok(f"{handle.root_url}/health")


class UnknownProviderError(LookupError):
    pass


PROVIDERS: dict[str, str] = {
    "llamacpp": "kvmesh.engines.llamacpp:LlamaCppProvider",
    "external": "kvmesh.engines.external:ExternalProvider",
    "vllm": "kvmesh.engines.vllm:VllmProvider",
}


def create_provider(name: str, settings: EngineSettings) -> EngineProvider:
    """Build the provider registered as `name`; `settings` are the engines' typed settings."""
    target = PROVIDERS.get(name)
    if target is None:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProviderError(f"unknown engine provider {name!r} (known: {known})")
    module_name, attr = target.split(":")
    factory = getattr(importlib.import_module(module_name), attr)
    provider: EngineProvider = factory(settings)
    return provider


async def start_engine_process(
    provider: str,
    spec: ReplicaSpec,
    ordinal: int,
    port: int,
    argv: list[str],
    log_path: Path,
    start_timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    grace_s: float = 5.0,
) -> ReplicaHandle:
    """Launch one engine process serving on loopback `port`; return its handle once `/health` answers.

    Whatever goes wrong before that (EngineStartError, cancellation), the process is stopped.
    """
    tag = {REPLICA_ENV: replica_tag(spec.deployment_id, ordinal)}
    process = launch(argv, log_path, {**(env or {}), **tag})
    handle = ReplicaHandle(
        provider=provider,
        deployment_id=spec.deployment_id,
        ordinal=ordinal,
        url=f"http://127.0.0.1:{port}/v1",
        pid=process.pid,
        start_ticks=process_start_ticks(process.pid),
        log_path=log_path,
        command=argv,
        process=process,
    )
    try:
        await wait_until_healthy(f"{handle.root_url}/health", process, log_path, start_timeout_s)
    except BaseException:
        await asyncio.shield(terminate(process, grace_s=grace_s))
        raise
    return handle


def adopt_engine_process(
    provider: str, spec: ReplicaSpec, recorded: RecordedReplica, log_path: Path
) -> ReplicaHandle | None:
    """A handle on a recorded engine process that still runs with the same pid, start time and port."""
    if recorded.pid is None or recorded.start_ticks is None or not recorded.url:
        return None
    handle = ReplicaHandle(
        provider=provider,
        deployment_id=spec.deployment_id,
        ordinal=recorded.ordinal,
        url=recorded.url,
        pid=recorded.pid,
        start_ticks=recorded.start_ticks,
        log_path=log_path,
    )
    return handle if handle.exited() is None else None


async def stop_engine_process(handle: ReplicaHandle, grace_s: float = 5.0) -> None:
    """Stop a launched engine (its process group) or an adopted one (after checking its identity)."""
    if handle.process is not None:
        await terminate(handle.process, grace_s=grace_s)
    elif handle.pid is not None and handle.start_ticks is not None:
        await asyncio.to_thread(
            stop_recorded_process, handle.pid, handle.start_ticks, handle.port_marker, grace_s
        )
