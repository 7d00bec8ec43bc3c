"""A deployment can back a serverless catalog entry (what `tm local up` does for the embedded model)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from kvmesh.controlplane.catalog import seed_catalog
from kvmesh.controlplane.deployments import back_serverless_model
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.models import Deployment, ServerlessModel, User

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class CatalogSettings:
    catalog_file: Path | None = None


def test_backing_links_the_entry_and_marks_the_deployment(migrated_database_url: str) -> None:
    engine = create_engine_for_url(migrated_database_url)
    try:
        with make_session_factory(engine)() as session:
            seed_catalog(session, CatalogSettings())
            user = User(email="o@example.com", password_hash="x", role="admin")
            session.add(user)
            session.flush()
            deployment = Deployment(user_id=user.id, served_name="smol")
            session.add(deployment)
            session.flush()
            assert back_serverless_model(session, deployment, SMOL) is True
            session.commit()
            entry = session.scalar(select(ServerlessModel).where(ServerlessModel.model == SMOL))
            assert entry is not None and entry.deployment_id == deployment.id
            assert deployment.serverless is True
            assert back_serverless_model(session, deployment, "no/such-model") is False
    finally:
        engine.dispose()
