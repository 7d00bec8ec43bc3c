"""Gateway test helpers: the store rows the Control Plane would write, and the running parts of a scenario."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from gateway_standin import StandInUpstream
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kvmesh.gateway.app import GatewayApp
from kvmesh.store.models import (
    ApiKey,
    Deployment,
    LedgerEntry,
    Replica,
    ServerlessModel,
    UsageRecord,
    User,
    utcnow,
)
from kvmesh.store.secrets import hash_api_key, new_api_key

SERVED_NAME = "my-model"
SERVERLESS_MODEL = "org/serverless-model"


@dataclass
class Tenant:
    user_id: str
    key: str
    api_key_id: str


class GatewayStore:
    """The test database plus helpers that write the rows the Control Plane would."""

    def __init__(self, url: str, sessions: sessionmaker[Session]) -> None:
        self.url = url
        self.sessions = sessions
        self.secret = secrets.token_bytes(32)

    def add_user(self, email: str | None = None) -> Tenant:
        key = new_api_key()
        with self.sessions() as session, session.begin():
            user = User(email=email or f"{secrets.token_hex(4)}@example.com")
            session.add(user)
            session.flush()
            api_key = ApiKey(
                user_id=user.id,
                key_hash=hash_api_key(self.secret, key),
                key_encrypted="-",
                key_prefix=key[:8],
            )
            session.add(api_key)
            session.flush()
            return Tenant(user_id=user.id, key=key, api_key_id=api_key.id)

    def add_deployment_key(self, user_id: str, deployment_id: str) -> str:
        """A deployment's own gateway key (api_keys.deployment_id set), as the CP creates it."""
        key = new_api_key()
        with self.sessions() as session, session.begin():
            session.add(
                ApiKey(
                    user_id=user_id,
                    deployment_id=deployment_id,
                    key_hash=hash_api_key(self.secret, key),
                    key_encrypted="-",
                    key_prefix=key[:8],
                )
            )
        return key

    def add_deployment(
        self,
        user_id: str,
        served_name: str,
        replica_urls: list[str],
        status: str = "ready",
        provider: str = "external",
        routing: str | None = None,
    ) -> str:
        with self.sessions() as session, session.begin():
            deployment = Deployment(
                user_id=user_id,
                served_name=served_name,
                status=status,
                provider=provider,
                routing_policy=routing,
            )
            session.add(deployment)
            session.flush()
            for ordinal, url in enumerate(replica_urls):
                session.add(Replica(deployment_id=deployment.id, ordinal=ordinal, url=url, status="ready"))
            return deployment.id

    def add_serverless(
        self, model: str, deployment_id: str, input_price: int = 0, output_price: int = 0
    ) -> None:
        with self.sessions() as session, session.begin():
            session.add(
                ServerlessModel(
                    name=model,
                    model=model,
                    deployment_id=deployment_id,
                    input_price_micros=input_price,
                    output_price_micros=output_price,
                )
            )

    def grant(self, user_id: str, micros: int) -> None:
        with self.sessions() as session, session.begin():
            session.add(LedgerEntry(user_id=user_id, amount_micros=micros, kind="credit_grant"))

    def revoke(self, api_key_id: str) -> None:
        with self.sessions() as session, session.begin():
            session.get_one(ApiKey, api_key_id).revoked_at = utcnow()

    def usage(self) -> list[UsageRecord]:
        with self.sessions() as session:
            return list(session.scalars(select(UsageRecord).order_by(UsageRecord.id)))

    def replica_url(self, replica_id: str) -> str:
        with self.sessions() as session:
            return session.get_one(Replica, replica_id).url

    def wait_for_usage(self, count: int, timeout: float = 15.0) -> list[UsageRecord]:
        """The usage rows once `count` are stored (the Gateway writes them in batches)."""
        deadline = time.monotonic() + timeout
        while self.usage_count() < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.usage()

    def usage_count(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(UsageRecord)) or 0)


@dataclass
class LiveGateway:
    base_url: str
    app: GatewayApp


@dataclass
class Scenario:
    """One user with an On-Demand deployment and a serverless model, both on the stand-in."""

    store: GatewayStore
    gateway: LiveGateway
    upstream: StandInUpstream
    tenant: Tenant
    deployment_id: str

    def on_demand_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tenant.key}", "X-User-Id": self.tenant.user_id}

    def serverless_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tenant.key}"}
