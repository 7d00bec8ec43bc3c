"""Deployment records in the store: validate and create a user's deployment with its own key, delete it.

The Control Plane only writes intent (`pending` on create, `stopping` on delete) and wakes the
engines controller, which starts or stops replicas and moves the status on. With no controller
running (the `run_engines` setting off), a delete completes at once (`stopped`, `deleted_at`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kvmesh.controlplane.catalog import DEFAULT_CATALOG_MODEL, ENGINES
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.quotas import QuotaDefaults, check_deployment_quota
from kvmesh.engines.upstream_policy import ADMIN_APPROVED, UpstreamPolicy
from kvmesh.store.models import ApiKey, CatalogModel, Deployment, DeploymentEvent, ServerlessModel, utcnow
from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY, encrypt_secret
from kvmesh.store.users import create_api_key
from kvmesh.wire import ROUTING_POLICIES

SERVED_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
SERVED_NAME_RULE = (
    "1-100 characters: lowercase letters, digits, '-', '.' or '_', starting with a letter or digit"
)
CLOUD_PROVIDER_PATTERN = re.compile(r"^CLOUD_PROVIDER_[A-Z0-9_]{1,25}$")  # column is 40 chars
MAX_REPLICAS = 64
GONE_STATUSES = ("stopping", "stopped")
DELETED_MARK = "~deleted~"  # cannot occur in a valid served name
STRICT_UPSTREAMS = UpstreamPolicy()  # no allowlist: only public upstream addresses


@dataclass(frozen=True)
class DeploymentRequest:
    """A validated-shape request to deploy; `create_deployment` checks it against the store."""

    served_name: str
    catalog_model: str | None = None
    provider: str | None = None
    replicas: int = 1
    engine_config: dict[str, Any] = field(default_factory=dict)
    upstream_url: str | None = None
    upstream_api_key: str | None = None
    description: str = ""
    cloud_provider: str | None = None
    region: str | None = None
    gpu_type: str = ""
    gpu_count: int = 0
    routing: str | None = None


def _release_name(deployment: Deployment) -> None:
    """Rename a deleted deployment so its served name can be reused at once; history stays attached."""
    if DELETED_MARK not in deployment.served_name:
        deployment.served_name = f"{deployment.served_name}{DELETED_MARK}{deployment.id}"


def display_name(served_name: str) -> str:
    """The served name as the user gave it (without the mark a deletion adds)."""
    return served_name.split(DELETED_MARK, 1)[0]


def served_name_problem(name: str) -> str | None:
    """Why `name` cannot be a served model name, or None when it can."""
    if not SERVED_NAME_PATTERN.fullmatch(name):
        return f"modelName {name!r} is invalid: use {SERVED_NAME_RULE}"
    return None


def find_by_served_name(session: Session, user_id: str, served_name: str) -> Deployment | None:
    return session.scalar(
        select(Deployment).where(Deployment.user_id == user_id, Deployment.served_name == served_name)
    )


def name_is_free(session: Session, user_id: str, served_name: str) -> bool:
    existing = find_by_served_name(session, user_id, served_name)
    return existing is None or existing.status in GONE_STATUSES


def list_deployments(
    session: Session, user_id: str, *, include_deleted: bool = False
) -> Sequence[Deployment]:
    query = (
        select(Deployment)
        .where(Deployment.user_id == user_id)
        .options(selectinload(Deployment.replicas), selectinload(Deployment.events))
        .order_by(Deployment.created_at.desc(), Deployment.id.desc())
    )
    if not include_deleted:
        query = query.where(Deployment.deleted_at.is_(None), Deployment.status.not_in(GONE_STATUSES))
    return session.scalars(query).all()


def get_owned_deployment(session: Session, user_id: str, deployment_id: str) -> Deployment:
    """The deployment if it belongs to `user_id`; 404 otherwise (never reveals other users' rows)."""
    try:
        key = str(uuid.UUID(deployment_id.strip()))
    except ValueError:
        key = ""
    deployment = session.get(Deployment, key) if key else None
    if deployment is None or deployment.user_id != user_id:
        raise ApiError(404, f"no such model: {deployment_id}", "model_not_found")
    return deployment


def deployment_keys(session: Session, deployment_ids: Sequence[str]) -> dict[str, ApiKey]:
    """The newest active key bound to each deployment, by deployment id."""
    if not deployment_ids:
        return {}
    rows = session.scalars(
        select(ApiKey)
        .where(ApiKey.deployment_id.in_(list(deployment_ids)), ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at)
    ).all()
    return {row.deployment_id: row for row in rows if row.deployment_id is not None}


def _resolve_catalog(session: Session, request: DeploymentRequest) -> tuple[CatalogModel | None, str]:
    provider = request.provider
    if provider is not None and provider not in ENGINES:
        raise ApiError(
            400, f"provider must be one of {', '.join(ENGINES)}, got {provider!r}", "invalid_provider"
        )
    name = request.catalog_model
    if name is None and provider != "external":
        name = DEFAULT_CATALOG_MODEL
    catalog = session.scalar(select(CatalogModel).where(CatalogModel.name == name)) if name else None
    if catalog is None and name is not None and (provider or "llamacpp") == "llamacpp":
        raise ApiError(
            404, f"unknown catalog model {name!r} (see GET /v1/catalog/models)", "catalog_not_found"
        )
    return catalog, provider or (catalog.engine if catalog is not None else "llamacpp")


def _check_upstreams(config: dict[str, Any], url: str, policy: UpstreamPolicy | None) -> None:
    """Refuse upstreams on local/private/metadata addresses (403) unless trusted (`policy` None: an admin)."""
    extra = config.get("base_urls") or []
    if not isinstance(extra, list) or not all(isinstance(item, str) for item in extra):
        raise ApiError(400, "engineConfig.base_urls must be a list of URLs", "invalid_upstream")
    if policy is None:
        config[ADMIN_APPROVED] = True
        return
    for candidate in [url, *extra]:
        if not candidate.strip().startswith(("http://", "https://")):
            raise ApiError(400, "engineConfig.base_urls must be http:// or https:// URLs", "invalid_upstream")
        refusal = policy.url_refusal(candidate.strip())
        if refusal:
            raise ApiError(403, refusal, "upstream_not_allowed")


def _engine_config(
    request: DeploymentRequest, provider: str, secret: bytes, policy: UpstreamPolicy | None
) -> dict[str, Any]:
    """The engine config to store; an external upstream's API key is kept only encrypted."""
    config = dict(request.engine_config)
    config.pop(ADMIN_APPROVED, None)  # only `_check_upstreams` may set it
    if provider == "external":
        url = (request.upstream_url or str(config.get("base_url") or "")).strip()
        if not url.startswith(("http://", "https://")):
            raise ApiError(
                400, "an external deployment needs upstreamUrl (http:// or https://)", "invalid_upstream"
            )
        _check_upstreams(config, url, policy)
        config["base_url"] = url
        config.pop(ENCRYPTED_UPSTREAM_KEY, None)
        upstream_key = request.upstream_api_key or config.pop("api_key", None)
        if upstream_key is not None and not isinstance(upstream_key, str):
            raise ApiError(400, "engineConfig.api_key must be a string", "invalid_upstream")
        if upstream_key:
            config[ENCRYPTED_UPSTREAM_KEY] = encrypt_secret(secret, upstream_key)
    elif request.upstream_url or request.upstream_api_key:
        raise ApiError(400, "upstreamUrl/upstreamApiKey apply only to provider external", "invalid_upstream")
    if provider == "vllm" and request.catalog_model and "model" not in config:
        config["model"] = request.catalog_model
    return config


def create_deployment(
    session: Session,
    secret: bytes,
    user_id: str,
    request: DeploymentRequest,
    *,
    default_cloud_provider: str,
    upstream_policy: UpstreamPolicy | None = STRICT_UPSTREAMS,
    quota: QuotaDefaults | None = None,
) -> Deployment:
    """Insert a `pending` deployment plus its own gateway key (flushes; the caller commits).

    `upstream_policy` checks an external upstream's addresses; None trusts them (an admin's request).
    With `quota`, a deployment past the user's deployment or replica cap is refused (403).
    """
    problem = served_name_problem(request.served_name)
    if problem:
        raise ApiError(400, problem, "invalid_model_name")
    if not 1 <= request.replicas <= MAX_REPLICAS:
        raise ApiError(400, f"replicas must be between 1 and {MAX_REPLICAS}", "invalid_replicas")
    if quota is not None:
        check_deployment_quota(session, quota, user_id, new_deployments=1, new_replicas=request.replicas)
    cloud_provider = (request.cloud_provider or "").strip() or default_cloud_provider
    if not CLOUD_PROVIDER_PATTERN.fullmatch(cloud_provider):
        raise ApiError(
            400, f"infra.cloudProvider {cloud_provider!r} is not a CLOUD_PROVIDER_* value", "invalid_infra"
        )
    routing = check_routing(request.routing)
    catalog, provider = _resolve_catalog(session, request)
    engine_config = _engine_config(request, provider, secret, upstream_policy)
    existing = find_by_served_name(session, user_id, request.served_name)
    if existing is not None:
        if existing.status not in GONE_STATUSES:
            raise ApiError(409, f"you already have a model named {request.served_name!r}", "model_name_taken")
        _release_name(existing)
        session.flush()
    deployment = Deployment(
        user_id=user_id,
        catalog_model_id=catalog.id if catalog is not None else None,
        served_name=request.served_name,
        description=request.description,
        status="pending",
        provider=provider,
        cloud_provider=cloud_provider,
        region=(request.region or "").strip() or "local",
        replicas_desired=request.replicas,
        gpu_type=request.gpu_type,
        gpu_count=request.gpu_count,
        engine_config=engine_config,
        routing_policy=routing,
    )
    session.add(deployment)
    session.flush()
    session.add(
        DeploymentEvent(deployment_id=deployment.id, event_type="CREATED", log="deployment requested")
    )
    create_api_key(
        session, secret, user_id, name=f"deployment {request.served_name}", deployment_id=deployment.id
    )
    session.flush()
    return deployment


def check_routing(routing: str | None) -> str | None:
    """A valid routing policy name (None keeps the Gateway's default); 400 names the valid ones."""
    if routing is None:
        return None
    name = routing.strip()
    if name not in ROUTING_POLICIES:
        raise ApiError(
            400,
            f"routing must be one of {', '.join(ROUTING_POLICIES)}, got {routing!r}",
            "invalid_routing",
        )
    return name


def update_routing(session: Session, deployment: Deployment, routing: str | None) -> None:
    """Change the deployment's routing policy; the Gateway picks it up within its route TTL."""
    if deployment.status in GONE_STATUSES or deployment.deleted_at is not None:
        raise ApiError(404, f"no such model: {deployment.id} (deleted)", "model_not_found")
    name = check_routing(routing)
    if name != deployment.routing_policy:
        deployment.routing_policy = name
        session.add(
            DeploymentEvent(
                deployment_id=deployment.id,
                event_type="ROUTING_CHANGED",
                log=f"routing policy set to {name or 'default'}",
            )
        )
    session.flush()


def request_delete(session: Session, deployment: Deployment, *, controller_running: bool) -> None:
    """Mark the deployment for stopping, free its name and revoke its key; idempotent while stopping."""
    if deployment.status == "stopping":
        return
    now = utcnow()
    deployment.status = "stopping"
    _release_name(deployment)
    session.add(
        DeploymentEvent(deployment_id=deployment.id, event_type="DELETE_REQUESTED", log="deletion requested")
    )
    for key in session.scalars(
        select(ApiKey).where(ApiKey.deployment_id == deployment.id, ApiKey.revoked_at.is_(None))
    ):
        key.revoked_at = now
    if not controller_running:
        deployment.status = "stopped"
        deployment.deleted_at = now
        for replica in deployment.replicas:
            replica.status = "stopped"
    session.flush()


def back_serverless_model(session: Session, deployment: Deployment, model: str) -> bool:
    """Let `deployment` also serve the serverless catalog entry `model`; False when there is no such entry."""
    deployment.serverless = True
    entry = session.scalar(select(ServerlessModel).where(ServerlessModel.model == model))
    if entry is None:
        return False
    entry.deployment_id = deployment.id
    session.flush()
    return True
