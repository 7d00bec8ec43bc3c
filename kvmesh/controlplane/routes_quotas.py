"""Admin routes for per-user quotas: read a user's effective caps, set or clear overrides (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kvmesh.controlplane.access import canonical_user_id
from kvmesh.controlplane.deps import AdminUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.quotas import effective_quota, live_usage
from kvmesh.controlplane.wire_models import error_responses
from kvmesh.store.models import User, UserQuota

router = APIRouter(tags=["admin-quotas"], responses=error_responses())

Cap = Annotated[int | None, Field(ge=0, le=1_000_000)]


class QuotaBody(BaseModel):
    """Overrides to set; a field sent as null clears that override (the server setting applies again)."""

    model_config = ConfigDict(extra="forbid")
    maxDeployments: Cap = None
    maxReplicas: Cap = None
    maxConcurrentRequests: Cap = None


class QuotaView(BaseModel):
    userId: str
    maxDeployments: int
    maxReplicas: int
    maxConcurrentRequests: int | None = Field(
        description="null unless overridden: each Gateway's --max-concurrent-requests applies"
    )
    overridden: list[str]
    deploymentsInUse: int
    replicasInUse: int


FIELDS = {
    "maxDeployments": "max_deployments",
    "maxReplicas": "max_replicas",
    "maxConcurrentRequests": "max_concurrent_requests",
}


def _view(session: DbSession, services: Services, user_id: str) -> QuotaView:
    quota = effective_quota(session, services.settings.quota_defaults, user_id)
    deployments, replicas = live_usage(session, user_id)
    wire_names = {snake: camel for camel, snake in FIELDS.items()}
    return QuotaView(
        userId=user_id,
        maxDeployments=quota.max_deployments,
        maxReplicas=quota.max_replicas,
        maxConcurrentRequests=quota.max_concurrent_requests,
        overridden=[wire_names[name] for name in quota.overridden],
        deploymentsInUse=deployments,
        replicasInUse=replicas,
    )


def _user_id(session: DbSession, user_id: str) -> str:
    user = session.get(User, canonical_user_id(user_id))
    if user is None:
        raise ApiError(404, f"no such user: {user_id}", "user_not_found")
    return user.id


@router.get("/v1/admin/users/{user_id}/quotas", response_model=QuotaView)
def get_quotas(user_id: str, admin: AdminUser, session: DbSession, services: Services) -> QuotaView:
    """A user's effective quotas (override or server setting) and what they use now."""
    return _view(session, services, _user_id(session, user_id))


@router.put("/v1/admin/users/{user_id}/quotas", response_model=QuotaView)
def set_quotas(
    user_id: str, body: QuotaBody, admin: AdminUser, session: DbSession, services: Services
) -> QuotaView:
    """Set per-user overrides; only the fields sent change (null clears one). Gateways apply a new
    concurrent-request cap within their key cache TTL (seconds)."""
    target = _user_id(session, user_id)
    row = session.get(UserQuota, target) or UserQuota(user_id=target)
    for camel in body.model_fields_set:
        setattr(row, FIELDS[camel], getattr(body, camel))
    session.add(row)
    session.commit()
    return _view(session, services, target)
