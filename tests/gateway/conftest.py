"""Gateway test fixtures: a seeded store (SQLite and PostgreSQL), a stand-in upstream, a live Gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from gateway_harness import SERVED_NAME, SERVERLESS_MODEL, GatewayStore, LiveGateway, Scenario
from gateway_standin import StandInUpstream

from kvmesh.gateway.app import create_app
from kvmesh.gateway.server import ThreadedGateway
from kvmesh.gateway.settings import GatewaySettings
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.models import Base


@pytest.fixture
def store(database_url: str) -> Iterator[GatewayStore]:
    engine = create_engine_for_url(database_url)
    Base.metadata.create_all(engine)
    yield GatewayStore(database_url, make_session_factory(engine))
    engine.dispose()


@pytest.fixture
def standin(serve_app: Callable[[Callable[[int], Any]], Any]) -> Any:
    """A running stand-in upstream; `.base_url` is its origin, `.app` the StandInUpstream."""
    return serve_app(lambda port: StandInUpstream())


@pytest.fixture
def start_gateway(
    serve_app: Callable[[Callable[[int], Any]], Any], store: GatewayStore
) -> Callable[..., LiveGateway]:
    """Factory: a Gateway on the test store; keyword arguments override `GatewaySettings` fields."""

    def start(**overrides: Any) -> LiveGateway:
        settings = replace(
            GatewaySettings(database_url=store.url, server_secret=store.secret, probe_interval=0.2),
            **overrides,
        )
        live = serve_app(lambda port: create_app(settings), ThreadedGateway)
        return LiveGateway(base_url=live.base_url, app=live.app)

    return start


@pytest.fixture
def scenario(store: GatewayStore, standin: Any, start_gateway: Callable[..., LiveGateway]) -> Scenario:
    tenant = store.add_user()
    deployment_id = store.add_deployment(tenant.user_id, SERVED_NAME, [standin.base_url + "/v1"])
    store.add_serverless(SERVERLESS_MODEL, deployment_id, input_price=1_000_000, output_price=2_000_000)
    store.grant(tenant.user_id, 10_000_000)
    gateway = start_gateway(idle_timeout=1.0, first_byte_timeout=2.0, connect_timeout=1.0)
    return Scenario(store, gateway, standin.app, tenant, deployment_id)
