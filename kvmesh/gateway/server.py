"""Run the Gateway under uvicorn (uvloop + httptools); `serve()` is what `kvmesh gateway serve` calls."""

from __future__ import annotations

import os
from pathlib import Path

from kvmesh.gateway.app import GatewayApp, create_app
from kvmesh.gateway.routing import POLICIES, POLICY_NAMES, RoutingConfig
from kvmesh.gateway.settings import GatewaySettings

DATABASE_URL_ENV = "KVMESH_GATEWAY_DATABASE_URL"
DATA_DIR_ENV = "KVMESH_GATEWAY_DATA_DIR"
ROUTING_POLICY_ENV = "KVMESH_GATEWAY_ROUTING_POLICY"  # the default for deployments that choose none


def settings_for(database_url: str | None, data_dir: Path | None) -> GatewaySettings:
    """Settings from the CLI arguments, falling back to the store's default URL and data dir."""
    from kvmesh.store.engine import default_data_dir, default_database_url
    from kvmesh.store.secrets import load_server_secret

    directory = data_dir if data_dir is not None else default_data_dir()
    default_policy = os.environ.get(ROUTING_POLICY_ENV, "").strip() or "least_outstanding"
    if default_policy not in POLICIES:
        raise ValueError(
            f"{ROUTING_POLICY_ENV}={default_policy!r} is not a routing policy; "
            f"choose one of: {', '.join(POLICY_NAMES)}"
        )
    return GatewaySettings(
        database_url=database_url or default_database_url(),
        server_secret=load_server_secret(directory / "server-secret"),
        routing_policy=default_policy,
        routing=RoutingConfig.from_env(os.environ),
    )


def app_from_environment() -> GatewayApp:
    """Factory for uvicorn worker processes (`--workers N`), which cannot receive Python objects."""
    data_dir = os.environ.get(DATA_DIR_ENV, "")
    return create_app(
        settings_for(os.environ.get(DATABASE_URL_ENV) or None, Path(data_dir) if data_dir else None)
    )


def serve(
    host: str, port: int, database_url: str | None, workers: int = 1, data_dir: Path | None = None
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
        uvicorn.run(create_app(settings_for(database_url, data_dir)), lifespan="on", **common)  # type: ignore[arg-type]
        return
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
