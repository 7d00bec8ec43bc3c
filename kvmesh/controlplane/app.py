"""Control Plane app factory: lifespan (migrate, secrets, catalog, controller), middleware, routers."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from kvmesh import __version__
from kvmesh.controlplane.deps import ControlPlaneServices
from kvmesh.controlplane.errors import install_error_handlers
from kvmesh.controlplane.ratelimit import RateLimits, TokenBucketLimiter, per_minute
from kvmesh.controlplane.request_context import RequestContextMiddleware
from kvmesh.controlplane.settings import ControlPlaneSettings

log = logging.getLogger("kvmesh.controlplane")

OPTIONAL_ROUTERS = (
    "kvmesh.controlplane.routes_inventory",
    "kvmesh.controlplane.routes_keys",
    "kvmesh.controlplane.routes_billing",
    "kvmesh.controlplane.routes_quotas",
)


def _optional_module(name: str) -> Any | None:
    """Import a module that another engineer may not have landed yet; None when it is absent."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def _build_services(settings: ControlPlaneSettings) -> tuple[ControlPlaneServices, Engine]:
    from kvmesh.controlplane.tokens import load_jwt_key
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.migrate import upgrade_database
    from kvmesh.store.passwords import make_password_hasher
    from kvmesh.store.secrets import load_server_secret

    upgrade_database(settings.database_url)
    secret = load_server_secret(settings.data_dir / "server-secret")
    engine = create_engine_for_url(settings.database_url)
    session_factory = make_session_factory(engine)
    with session_factory() as session:
        jwt_key = load_jwt_key(session)
        catalog = _optional_module("kvmesh.controlplane.catalog")
        if catalog is not None:
            catalog.seed_catalog(session, settings)
            session.commit()
    interval = max(1, settings.login_poll_interval_s)
    limits = RateLimits(
        login_start=per_minute(settings.login_start_limit_per_minute),
        signin=per_minute(settings.signin_limit_per_minute),
        exchange=TokenBucketLimiter(capacity=5, per_second=1.0 / interval),
    )
    services = ControlPlaneServices(
        settings=settings,
        secret=secret,
        session_factory=session_factory,
        jwt_key=jwt_key,
        password_hasher=make_password_hasher(settings.argon2_time_cost, settings.argon2_memory_cost_kib),
        rate_limits=limits,
    )
    return services, engine


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ControlPlaneSettings = app.state.settings
    services, engine = await asyncio.to_thread(_build_services, settings)
    controller_module = _optional_module("kvmesh.engines.controller") if settings.run_engines else None
    if controller_module is not None:
        services.controller = controller_module.DeploymentController(
            services.session_factory, settings, secret=services.secret
        )
        await services.controller.start()
    app.state.services = services
    log.info("control plane ready at %s", settings.base_url)
    try:
        yield
    finally:
        if services.controller is not None:
            await services.controller.stop()
        app.state.services = None
        engine.dispose()


def create_app(settings: ControlPlaneSettings) -> FastAPI:
    """Build a fresh Control Plane app; nothing touches the database until the lifespan starts."""
    from kvmesh.controlplane import routes_auth, routes_login_page

    app = FastAPI(
        title="kvmesh Control Plane",
        version=__version__,
        lifespan=_lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = None
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(routes_auth.router)
    app.include_router(routes_login_page.router)
    for name in OPTIONAL_ROUTERS:
        module = _optional_module(name)
        if module is not None:
            app.include_router(module.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
