"""Accounts, tokens and store shortcuts for the system-of-record tests (inventory, keys, billing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import update

from kvmesh.controlplane.tokens import TokenLifetimes, issue_tokens
from kvmesh.store.models import Deployment, Replica, UsageRecord, utcnow
from kvmesh.store.passwords import make_password_hasher
from kvmesh.store.usage_rollup import apply_usage_to_rollups
from kvmesh.store.users import create_user

PASSWORD = "correct horse battery"


@dataclass
class Account:
    user_id: str
    email: str
    tokens: dict[str, Any]
    account_key: str
    client: httpx.Client

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


def sign_up(live: Any, email: str, *, admin: bool = False) -> Account:
    """Create a user in the running CP's store and mint its tokens the way the exchange does."""
    services = live.app.state.services
    with services.session_factory() as session:
        user, key = create_user(
            session, services.secret, email, PASSWORD, admin=admin, hasher=make_password_hasher(1, 8192)
        )
        tokens = issue_tokens(session, services.jwt_key, user, TokenLifetimes(access_s=3600, refresh_s=3600))
        session.commit()
        user_id = user.id
    client = httpx.Client(
        base_url=live.base_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=30
    )
    return Account(user_id=user_id, email=email, tokens=tokens, account_key=key, client=client)


def mark_ready(live: Any, deployment_id: str, replica_url: str = "http://127.0.0.1:9/v1") -> None:
    """Do what the engines controller does once a replica answers: one ready replica, status ready."""
    with live.app.state.services.session_factory() as session:
        session.add(Replica(deployment_id=deployment_id, ordinal=0, url=replica_url, status="ready"))
        session.execute(update(Deployment).where(Deployment.id == deployment_id).values(status="ready"))
        session.commit()


def record_usage(
    live: Any,
    user_id: str,
    *,
    model: str = "smollm2-135m-instruct",
    cost_micros: int = 1_000,
    cached_tokens: int = 0,
    created_at: datetime | None = None,
    surface: str = "on-demand",
) -> None:
    """Write a usage record and its rollup in one transaction, as the Gateway's metering does."""
    row = {
        "request_id": f"req-{utcnow().timestamp()}",
        "user_id": user_id,
        "surface": surface,
        "model": model,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": cached_tokens,
        "cost_micros": cost_micros,
        "created_at": created_at or utcnow(),
    }
    with live.app.state.services.session_factory() as session:
        session.add(UsageRecord(**row))
        apply_usage_to_rollups(session, [row])
        session.commit()


def deploy(account: Account, name: str = "smollm2-135m-instruct", **extra: Any) -> dict[str, Any]:
    response = account.client.post("/v1/deployments", json={"modelName": name, **extra})
    assert response.status_code == 201, response.text
    deployment: dict[str, Any] = response.json()["deployment"]
    return deployment
