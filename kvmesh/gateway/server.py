"""Run the Gateway under uvicorn (uvloop + httptools); `serve()` is what `kvmesh gateway serve` calls."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from kvmesh.gateway.app import GatewayApp, create_app
from kvmesh.gateway.settings import GatewaySettings

DATABASE_URL_ENV = "KVMESH_GATEWAY_DATABASE_URL"
DATA_DIR_ENV = "KVMESH_GATEWAY_DATA_DIR"
TUNING_ENV = "KVMESH_GATEWAY_TUNING"  # JSON of GatewaySettings overrides, for worker processes
SPOOL_FOLDER = "usage-spool"


def settings_for(
    database_url: str | None, data_dir: Path | None, tuning: dict[str, Any] | None = None
) -> GatewaySettings:
    """Settings from the CLI arguments, falling back to the store's default URL and data dir; the usage
    spool lives in `<data dir>/usage-spool`. `tuning` overrides fields by name (timeouts, caps...)."""
    from kvmesh.store.engine import default_data_dir, default_database_url
    from kvmesh.store.secrets import load_server_secret

    directory = data_dir if data_dir is not None else default_data_dir()
    settings = GatewaySettings(
        database_url=database_url or default_database_url(),
        server_secret=load_server_secret(directory / "server-secret"),
        spool_dir=directory / SPOOL_FOLDER,
    )
    return replace(settings, **(tuning or {}))


def app_from_environment() -> GatewayApp:
    """Factory for uvicorn worker processes (`--workers N`), which cannot receive Python objects."""
    data_dir = os.environ.get(DATA_DIR_ENV, "")
    tuning = json.loads(os.environ.get(TUNING_ENV) or "{}")
    return create_app(
        settings_for(os.environ.get(DATABASE_URL_ENV) or None, Path(data_dir) if data_dir else None, tuning)
    )


def serve(
    host: str,
    port: int,
    database_url: str | None,
    workers: int = 1,
    data_dir: Path | None = None,
    tuning: dict[str, Any] | None = None,
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
    }
    if workers <= 1:
        app = create_app(settings_for(database_url, data_dir, tuning))
        uvicorn.run(app, lifespan="on", **common)  # type: ignore[arg-type]
        return
    settings_for(database_url, data_dir, tuning)  # fail fast in the parent (and create the secret file once)
    os.environ[TUNING_ENV] = json.dumps(tuning or {})
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
