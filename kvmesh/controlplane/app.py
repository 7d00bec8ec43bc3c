"""Control Plane app factory: lifespan (migrate, secrets, catalog, controller), middleware, routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from kvmesh import __version__
from kvmesh.controlplane.deps import ControlPlaneServices
from kvmesh.controlplane.errors import install_error_handlers
from kvmesh.controlplane.ratelimit import RateLimits, TokenBucketLimiter, per_minute
from kvmesh.controlplane.request_context import RequestContextMiddleware
from kvmesh.controlplane.settings import ControlPlaneSettings

log = logging.getLogger("kvmesh.controlplane")


def _build_services(settings: ControlPlaneSettings) -> tuple[ControlPlaneServices, Engine]:
    from kvmesh.controlplane.catalog import seed_catalog
    from kvmesh.controlplane.log_sources import DeploymentLogs
    from kvmesh.controlplane.routes_products import seed_products
    from kvmesh.controlplane.tokens import JWT_KEY_FILE, load_jwt_key
    from kvmesh.engines.leader import startup_lock
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.migrate import upgrade_database
    from kvmesh.store.passwords import make_password_hasher
    from kvmesh.store.private_files import private_dir
    from kvmesh.store.secrets import load_server_secret

    private_dir(settings.data_dir)
    secret = load_server_secret(settings.data_dir / "server-secret")
    engine = create_engine_for_url(settings.database_url)
    session_factory = make_session_factory(engine)
    # Several Control Planes may start at once on one PostgreSQL: one migrates and seeds at a time.
    with startup_lock(settings.database_url):
        # The migrations move a JWT key kept in the database into its file, so read it afterwards.
        upgrade_database(settings.database_url, settings.data_dir)
        jwt_key = load_jwt_key(settings.data_dir / JWT_KEY_FILE)
        with session_factory() as session:
            seed_catalog(session, settings)
            session.commit()
            seed_products(session)
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
        logs=DeploymentLogs(settings.engine_settings()),
    )
    return services, engine


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ControlPlaneSettings = app.state.settings
    services, engine = await asyncio.to_thread(_build_services, settings)
    if settings.run_engines:
        from kvmesh.engines.elected import build_elected_controllers

        # Of several Control Planes on one store, only the elected one runs the controllers.
        services.controller = build_elected_controllers(
            services.session_factory, settings.database_url, settings.engine_settings(), services.secret
        )
        await services.controller.start()
    app.state.services = services
    log.info("control plane ready at %s", settings.base_url)
    try:
        yield
    finally:
        if services.controller is not None:
            await services.controller.stop()
        await services.logs.close()
        app.state.services = None
        engine.dispose()


def create_app(settings: ControlPlaneSettings) -> FastAPI:
    """Build a fresh Control Plane app; nothing touches the database until the lifespan starts."""
    from kvmesh.controlplane import (
        routes_account,
        routes_activities,
        routes_admin,
        routes_auth,
        routes_billing,
        routes_cost,
        routes_inventory,
        routes_keys,
        routes_login_page,
        routes_models_extra,
        routes_observability,
        routes_products,
        routes_quotas,
        routes_stripe,
        routes_support,
    )
    from kvmesh.controlplane.console import routes as console_routes

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
    app.include_router(routes_inventory.router)
    app.include_router(routes_keys.router)
    app.include_router(routes_billing.router)
    app.include_router(routes_cost.router)
    app.include_router(console_routes.router)
    app.include_router(routes_observability.router)
    app.include_router(routes_activities.router)
    app.include_router(routes_support.router)
    app.include_router(routes_account.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_quotas.router)
    app.include_router(routes_products.router)
    app.include_router(routes_models_extra.router)
    app.include_router(routes_stripe.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """`controller` says whether this Control Plane is the elected one (leader) or waits (standby)."""
        services: ControlPlaneServices | None = getattr(app.state, "services", None)
        controller = services.controller if services is not None else None
        return {"status": "ok", "controller": controller.role if controller is not None else "off"}

    return app
