"""Run the Gateway under uvicorn (uvloop + httptools); `serve()` is what `kvmesh gateway serve` calls."""

from __future__ import annotations

import os
from pathlib import Path

from kvmesh.engines.upstream_policy import ALLOWLIST_ENV
from kvmesh.gateway.app import GatewayApp, create_app
from kvmesh.gateway.settings import GatewaySettings

DATABASE_URL_ENV = "KVMESH_GATEWAY_DATABASE_URL"
DATA_DIR_ENV = "KVMESH_GATEWAY_DATA_DIR"


def settings_for(
    database_url: str | None, data_dir: Path | None, upstream_allowlist: tuple[str, ...] | None = None
) -> GatewaySettings:
    """Settings from the CLI arguments, falling back to the store's default URL and data dir (and the
    allowlist to `KVMESH_UPSTREAM_ALLOWLIST`, which is how `--workers N` processes receive it)."""
    from kvmesh.store.engine import default_data_dir, default_database_url
    from kvmesh.store.secrets import load_server_secret

    directory = data_dir if data_dir is not None else default_data_dir()
    return GatewaySettings(
        database_url=database_url or default_database_url(),
        server_secret=load_server_secret(directory / "server-secret"),
        upstream_allowlist=upstream_allowlist
        if upstream_allowlist is not None
        else tuple(os.environ.get(ALLOWLIST_ENV, "").split()),
    )


def app_from_environment() -> GatewayApp:
    """Factory for uvicorn worker processes (`--workers N`), which cannot receive Python objects."""
    data_dir = os.environ.get(DATA_DIR_ENV, "")
    return create_app(
        settings_for(os.environ.get(DATABASE_URL_ENV) or None, Path(data_dir) if data_dir else None)
    )


def serve(
    host: str,
    port: int,
    database_url: str | None,
    workers: int = 1,
    data_dir: Path | None = None,
    upstream_allowlist: tuple[str, ...] = (),
) -> None:
    import uvicorn

    common = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 30,
        "backlog": 4096,
        "proxy_headers": False,  # no X-Forwarded-For rewriting of the peer address
    }
    if workers <= 1:
        app = create_app(settings_for(database_url, data_dir, upstream_allowlist))
        uvicorn.run(app, lifespan="on", **common)  # type: ignore[arg-type]
        return
    os.environ[ALLOWLIST_ENV] = " ".join(upstream_allowlist)
    settings_for(database_url, data_dir)  # fail fast in the parent (and create the secret file once)
    if database_url:
        os.environ[DATABASE_URL_ENV] = database_url
    if data_dir is not None:
        os.environ[DATA_DIR_ENV] = str(data_dir)
    uvicorn.run(
        "kvmesh.gateway.server:app_from_environment",
        factory=True,
        workers=workers,
        lifespan="on",
        **common,  # type: ignore[arg-type]
    )
