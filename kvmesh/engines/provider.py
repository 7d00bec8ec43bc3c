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

from kvmesh.engines.processes import EngineStartError, http_ok, launch, terminate, wait_until_healthy
from kvmesh.engines.settings import EngineSettings

__all__ = [
    "PROVIDERS",
    "EngineProvider",
    "EngineStartError",
    "LocalProcessProvider",
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


@dataclass
class ReplicaHandle:
    """A started replica. `process` is set only for engines this process launched."""

    provider: str
    deployment_id: str
    ordinal: int
    url: str
    pid: int | None = None
    log_path: Path | None = None
    command: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def root_url(self) -> str:
        """The server root (the OpenAI base without its trailing `/v1`)."""
        return self.url.removesuffix("/").removesuffix("/v1")

    def exited(self) -> int | None:
        """The exit status if the launched process has ended, else None (always None when not launched)."""
        return None if self.process is None else self.process.poll()


class EngineProvider(Protocol):
    name: str

    async def start_replica(self, spec: ReplicaSpec, ordinal: int) -> ReplicaHandle:
        """Start replica `ordinal` and return once it answers health checks (EngineStartError otherwise)."""
        ...

    async def stop_replica(self, handle: ReplicaHandle) -> None: ...

    async def check_health(self, handle: ReplicaHandle) -> bool: ...

    async def describe(self, handle: ReplicaHandle) -> dict[str, Any]: ...


class LocalProcessProvider:
    """Stop and health-check for providers whose replicas are processes this host launched.

    `stop_grace_s` is how long a replica gets between SIGTERM and SIGKILL.
    """

    stop_grace_s = 5.0

    async def stop_replica(self, handle: ReplicaHandle) -> None:
        if handle.process is not None:
            await terminate(handle.process, grace_s=self.stop_grace_s)

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
    """Build the provider registered as `name`; `settings` is the Control Plane settings object."""
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
    process = launch(argv, log_path, env)
    handle = ReplicaHandle(
        provider=provider,
        deployment_id=spec.deployment_id,
        ordinal=ordinal,
        url=f"http://127.0.0.1:{port}/v1",
        pid=process.pid,
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
