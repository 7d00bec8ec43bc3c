"""Run the Control Plane under uvicorn; `serve()` is what `kvmesh controlplane serve` calls."""

from __future__ import annotations

from kvmesh.controlplane.app import create_app
from kvmesh.controlplane.settings import ControlPlaneSettings


def serve(settings: ControlPlaneSettings) -> None:
    """Serve on `settings.host:settings.port` until interrupted (the lifespan migrates the database)."""
    import uvicorn

    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False
    )
