"""Run the Gateway on its own HTTP server (uvloop); `serve()` is what `kvmesh gateway serve` calls.

`--workers N` starts N processes that each bind the port with SO_REUSEPORT, so the kernel spreads
connections over them and each has its own event loop, caches, upstream pool and usage writer.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import socket
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from kvmesh.engines.upstream_policy import ALLOWLIST_ENV
from kvmesh.gateway.app import GatewayApp, create_app
from kvmesh.gateway.http_server import serve_sockets
from kvmesh.gateway.routing import POLICIES, POLICY_NAMES, RoutingConfig
from kvmesh.gateway.settings import GatewaySettings

DATABASE_URL_ENV = "KVMESH_GATEWAY_DATABASE_URL"
DATA_DIR_ENV = "KVMESH_GATEWAY_DATA_DIR"
REDIS_URL_ENV = "KVMESH_GATEWAY_REDIS_URL"
KEY_RPM_ENV = "KVMESH_GATEWAY_KEY_REQUESTS_PER_MINUTE"
ROUTING_POLICY_ENV = "KVMESH_GATEWAY_ROUTING_POLICY"  # the default for deployments that choose none
TUNING_ENV = "KVMESH_GATEWAY_TUNING"  # JSON of GatewaySettings fields (timeouts, caps) for the workers
SPOOL_FOLDER = "usage-spool"
GRACEFUL_SECONDS = 30.0


def settings_for(
    database_url: str | None,
    data_dir: Path | None,
    redis_url: str = "",
    key_requests_per_minute: int = 0,
    upstream_allowlist: tuple[str, ...] | None = None,
    tuning: dict[str, Any] | None = None,
) -> GatewaySettings:
    """Settings from the CLI arguments, falling back to the store's default URL and data dir (and the
    allowlist to `KVMESH_UPSTREAM_ALLOWLIST`, which is how `--workers N` processes receive it); the
    usage spool lives in `<data dir>/usage-spool` (one file per process). `tuning` sets
    GatewaySettings fields by name (timeouts, caps, flush interval); an unknown name is a TypeError."""
    from kvmesh.store.engine import default_data_dir, default_database_url
    from kvmesh.store.secrets import load_server_secret

    directory = data_dir if data_dir is not None else default_data_dir()
    default_policy = os.environ.get(ROUTING_POLICY_ENV, "").strip() or "least_outstanding"
    if default_policy not in POLICIES:
        raise ValueError(
            f"{ROUTING_POLICY_ENV}={default_policy!r} is not a routing policy; "
            f"choose one of: {', '.join(POLICY_NAMES)}"
        )
    settings = GatewaySettings(
        database_url=database_url or default_database_url(),
        server_secret=load_server_secret(directory / "server-secret"),
        redis_url=redis_url,
        key_requests_per_minute=key_requests_per_minute,
        routing_policy=default_policy,
        routing=RoutingConfig.from_env(os.environ),
        upstream_allowlist=upstream_allowlist
        if upstream_allowlist is not None
        else tuple(os.environ.get(ALLOWLIST_ENV, "").split()),
        spool_dir=directory / SPOOL_FOLDER,
    )
    return replace(settings, **(tuning or {}))


def app_from_environment() -> GatewayApp:
    """The app of a worker process, built from the environment the parent set."""
    data_dir = os.environ.get(DATA_DIR_ENV, "")
    return create_app(
        settings_for(
            os.environ.get(DATABASE_URL_ENV) or None,
            Path(data_dir) if data_dir else None,
            os.environ.get(REDIS_URL_ENV, ""),
            int(os.environ.get(KEY_RPM_ENV) or 0),
            tuning=json.loads(os.environ.get(TUNING_ENV) or "{}"),
        )
    )


def listening_socket(host: str, port: int, reuse_port: bool, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(4096)
    sock.setblocking(False)
    return sock


def _run_loop(app: GatewayApp, sockets: list[socket.socket]) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests and flush usage."""
    import uvloop

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve_sockets(app, sockets, stop, graceful_seconds=GRACEFUL_SECONDS)

    uvloop.run(main())


def _worker_main(host: str, port: int) -> None:
    _run_loop(app_from_environment(), [listening_socket(host, port, reuse_port=True)])


def serve(
    host: str,
    port: int,
    database_url: str | None,
    workers: int = 1,
    data_dir: Path | None = None,
    redis_url: str = "",
    key_requests_per_minute: int = 0,
    upstream_allowlist: tuple[str, ...] = (),
    tuning: dict[str, Any] | None = None,
) -> None:
    if workers <= 1:
        settings = settings_for(
            database_url, data_dir, redis_url, key_requests_per_minute, upstream_allowlist, tuning
        )
        _run_loop(create_app(settings), [listening_socket(host, port, False)])
        return
    os.environ[ALLOWLIST_ENV] = " ".join(upstream_allowlist)
    # Fail fast in the parent (and create the secret file once).
    settings_for(database_url, data_dir, tuning=tuning)
    if database_url:
        os.environ[DATABASE_URL_ENV] = database_url
    if data_dir is not None:
        os.environ[DATA_DIR_ENV] = str(data_dir)
    # Worker processes are spawned: they read their settings from the environment (app_from_environment).
    os.environ[REDIS_URL_ENV] = redis_url
    os.environ[KEY_RPM_ENV] = str(key_requests_per_minute)
    os.environ[TUNING_ENV] = json.dumps(tuning or {})
    # Bind (without listening) in the parent so a busy port fails here with one clear error, not in N
    # children; a socket that does not listen takes no connections from the workers' group.
    probe = listening_socket(host, port, reuse_port=True, listen=False)
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_worker_main, args=(host, port), daemon=False) for _ in range(workers)]
    for child in children:
        child.start()
    probe.close()
    stopping = threading.Event()

    def forward(signum: int, _frame: object) -> None:
        stopping.set()
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()


class ThreadedGateway:
    """The Gateway server in a thread of this process, as tests and `tm local` in-process use it
    (the same interface as `uvicorn.Server`: `run(sockets)`, `started`, `should_exit`)."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.started = False
        self.should_exit = False

    def run(self, sockets: list[socket.socket]) -> None:
        import uvloop

        for sock in sockets:
            sock.setblocking(False)
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0:
                sock.listen(4096)

        async def main() -> None:
            stop = asyncio.Event()

            async def watch() -> None:
                while not self.should_exit:
                    await asyncio.sleep(0.05)
                stop.set()

            watcher = asyncio.get_running_loop().create_task(watch())
            await serve_sockets(self.app, sockets, stop, started=self._mark_started)  # type: ignore[arg-type]
            watcher.cancel()

        uvloop.run(main())

    def _mark_started(self) -> None:
        self.started = True
