"""Key, route, model-list and quota lookups from the store, behind in-process refreshing caches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.engines.upstream_policy import ADMIN_APPROVED
from kvmesh.gateway.cache import RefreshingCache
from kvmesh.gateway.settings import GatewaySettings
from kvmesh.store.models import (
    ApiKey,
    Deployment,
    Replica,
    ServerlessModel,
    User,
    UserQuota,
)
from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY, decrypt_secret

K = TypeVar("K")
V = TypeVar("V")

ON_DEMAND = "on-demand"
SERVERLESS = "serverless"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A usable key; `deployment_id` is set for a deployment's own key (valid for that deployment only)."""

    api_key_id: str
    user_id: str
    expires_at: datetime | None
    deployment_id: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class ReplicaTarget:
    """A ready replica. An external upstream carries its API key (sent as a Bearer token) and, unless an
    admin created it, `guarded`: its addresses are checked against the upstream policy on connect."""

    id: str
    url: str  # OpenAI base, e.g. http://127.0.0.1:40123/v1
    api_key: str = field(default="", repr=False)
    guarded: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """Where a model name goes: one deployment, its ready replicas, and per-1M-token prices."""

    surface: str
    model: str
    deployment_id: str | None
    deployment_status: str
    provider: str
    replicas: tuple[ReplicaTarget, ...]
    input_price_micros: int = 0
    output_price_micros: int = 0
    cached_price_micros: int = 0
    routing: str = ""  # the deployment's routing policy; "" = the Gateway's default

    @property
    def priced(self) -> bool:
        return bool(self.input_price_micros or self.output_price_micros or self.cached_price_micros)

    def cost_micros(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> int:
        """Cached input tokens are billed at the cached price only (0 = free, the shipped catalog's price)."""
        cached = min(cached_tokens, prompt_tokens)
        total = (
            (prompt_tokens - cached) * self.input_price_micros
            + cached * self.cached_price_micros
            + completion_tokens * self.output_price_micros
        )
        return (total + 999_999) // 1_000_000


class Directory:
    """Async lookups for the hot path; every store read runs in a worker thread and is cached."""

    def __init__(self, session_factory: Callable[[], Session], settings: GatewaySettings) -> None:
        self._sessions = session_factory
        self._secret = settings.server_secret
        hard = settings.hard_ttl
        self._keys: RefreshingCache[str, KeyRecord | None] = RefreshingCache(
            in_thread(self._load_key), settings.key_ttl, hard
        )
        self._routes: RefreshingCache[tuple[str, str, str], Route | None] = RefreshingCache(
            in_thread(self._load_route), settings.route_ttl, hard
        )
        self._model_lists: RefreshingCache[str, tuple[str, ...]] = RefreshingCache(
            in_thread(self._load_model_list), settings.route_ttl, hard
        )
        self._concurrency_caps: RefreshingCache[str, int | None] = RefreshingCache(
            in_thread(self._load_concurrency_cap), settings.key_ttl, hard
        )

    async def key(self, key_hash: str) -> KeyRecord | None:
        return await self._keys.get(key_hash)

    async def on_demand_route(self, user_id: str, served_name: str) -> Route | None:
        return await self._routes.get((ON_DEMAND, user_id, served_name))

    async def serverless_route(self, model: str) -> Route | None:
        return await self._routes.get((SERVERLESS, "", model))

    async def model_names(self, user_id: str | None) -> tuple[str, ...]:
        """Served names of the user's ready deployments, or the active serverless catalog when None."""
        return await self._model_lists.get(user_id or "")

    async def concurrency_cap(self, user_id: str) -> int | None:
        """The admin's per-user override of the concurrent-request cap, or None for the setting."""
        return await self._concurrency_caps.get(user_id)

    def _load_key(self, key_hash: str) -> KeyRecord | None:
        with self._sessions() as session:
            row = session.execute(
                select(ApiKey.id, ApiKey.user_id, ApiKey.expires_at, ApiKey.deployment_id)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None), User.disabled.is_(False))
            ).first()
        if row is None:
            return None
        expires_at = row.expires_at
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return KeyRecord(
            api_key_id=row.id, user_id=row.user_id, expires_at=expires_at, deployment_id=row.deployment_id
        )

    def _load_route(self, key: tuple[str, str, str]) -> Route | None:
        surface, user_id, model = key
        with self._sessions() as session:
            if surface == ON_DEMAND:
                deployment = session.scalars(
                    select(Deployment).where(
                        Deployment.user_id == user_id,
                        Deployment.served_name == model,
                        Deployment.deleted_at.is_(None),
                    )
                ).first()
                if deployment is None:
                    return None
                return Route(
                    surface=surface,
                    model=model,
                    deployment_id=deployment.id,
                    deployment_status=deployment.status,
                    provider=deployment.provider,
                    replicas=_ready_replicas(session, deployment, self._secret),
                    routing=deployment.routing_policy or "",
                )
            entry = session.scalars(
                select(ServerlessModel).where(ServerlessModel.model == model, ServerlessModel.is_active)
            ).first()
            if entry is None:
                return None
            backing = session.get(Deployment, entry.deployment_id) if entry.deployment_id else None
            usable = backing is not None and backing.deleted_at is None
            return Route(
                surface=surface,
                model=model,
                deployment_id=backing.id if backing is not None else None,
                deployment_status=backing.status if backing is not None and usable else "missing",
                provider=backing.provider if backing is not None else "",
                replicas=_ready_replicas(session, backing, self._secret)
                if backing is not None and usable
                else (),
                input_price_micros=entry.input_price_micros,
                output_price_micros=entry.output_price_micros,
                cached_price_micros=entry.cached_price_micros,
                routing=(backing.routing_policy or "") if backing is not None else "",
            )

    def _load_model_list(self, user_id: str) -> tuple[str, ...]:
        with self._sessions() as session:
            if user_id:
                names = session.scalars(
                    select(Deployment.served_name)
                    .where(
                        Deployment.user_id == user_id,
                        Deployment.status == "ready",
                        Deployment.deleted_at.is_(None),
                    )
                    .order_by(Deployment.served_name)
                ).all()
            else:
                names = session.scalars(
                    select(ServerlessModel.model)
                    .where(ServerlessModel.is_active)
                    .order_by(ServerlessModel.model)
                ).all()
        return tuple(names)

    def _load_concurrency_cap(self, user_id: str) -> int | None:
        with self._sessions() as session:
            return session.scalar(
                select(UserQuota.max_concurrent_requests).where(UserQuota.user_id == user_id)
            )


def _ready_replicas(session: Session, deployment: Deployment, secret: bytes) -> tuple[ReplicaTarget, ...]:
    if deployment.status != "ready":
        return ()
    rows = session.execute(
        select(Replica.id, Replica.url)
        .where(Replica.deployment_id == deployment.id, Replica.status == "ready")
        .order_by(Replica.ordinal)
    ).all()
    api_key, guarded = _upstream_access(deployment, secret)
    return tuple(
        ReplicaTarget(id=row.id, url=row.url.rstrip("/"), api_key=api_key, guarded=guarded)
        for row in rows
        if row.url
    )


def _upstream_access(deployment: Deployment, secret: bytes) -> tuple[str, bool]:
    """An external deployment's upstream key (decrypted) and whether its addresses must be checked."""
    if deployment.provider != "external":
        return "", False
    config = deployment.engine_config or {}
    token = config.get(ENCRYPTED_UPSTREAM_KEY)
    api_key = ""
    if isinstance(token, str):
        with contextlib.suppress(ValueError):  # a changed server secret: the upstream answers 401
            api_key = decrypt_secret(secret, token)
    return api_key, config.get(ADMIN_APPROVED) is not True


def in_thread(load: Callable[[K], V]) -> Callable[[K], Awaitable[V]]:
    """Wrap a blocking store read so the event loop awaits it in a worker thread."""

    async def run(key: K) -> V:
        return await asyncio.to_thread(load, key)

    return run


def now_utc() -> datetime:
    return datetime.now(UTC)
