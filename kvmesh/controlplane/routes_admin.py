"""Admin routes (403 for everyone else): users and roles, every user's models, spending summaries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kvmesh.controlplane import activities
from kvmesh.controlplane.access import canonical_user_id
from kvmesh.controlplane.activities import record_activity
from kvmesh.controlplane.billing_queries import spent_since
from kvmesh.controlplane.billing_records import money
from kvmesh.controlplane.deployments import GONE_STATUSES
from kvmesh.controlplane.deps import AdminUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import PageNumberQuery, PageSizeQuery, ShortText, UserIdQuery
from kvmesh.controlplane.routes_account import account_profile
from kvmesh.controlplane.routes_inventory import delete_deployment_record, deployment_records
from kvmesh.controlplane.wire_models import EmptyResult, error_responses
from kvmesh.store.models import Deployment, User, utcnow
from kvmesh.store.users import ROLE_ADMIN, ROLE_USER

router = APIRouter(tags=["admin"], responses=error_responses())

ROLES = (ROLE_USER, ROLE_ADMIN)


class ChangeRoleBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: ShortText | None = None
    targetUserId: ShortText
    targetUserRole: ShortText


class TargetsBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: ShortText | None = None
    targetUserIds: list[ShortText] = Field(default_factory=list, max_length=500)


def _user(session: Any, user_id: str) -> User:
    user = session.get(User, canonical_user_id(user_id))
    if user is None:
        raise ApiError(404, f"no such user: {user_id}", "user_not_found")
    assert isinstance(user, User)
    return user


@router.get("/v1/admin/users")
def admin_list_users(
    admin: AdminUser,
    session: DbSession,
    userId: UserIdQuery = None,
    page: PageNumberQuery = 1,
    size: PageSizeQuery = 100,
) -> dict[str, Any]:
    """Every account, oldest first."""
    total = session.scalar(select(func.count()).select_from(User)) or 0
    rows = session.scalars(
        select(User).order_by(User.created_at, User.id).offset((page - 1) * size).limit(size)
    )
    return {
        "users": [account_profile(session, row) for row in rows],
        "page": page,
        "size": size,
        "total": int(total),
    }


@router.post("/v1/admin/users/change_role")
def admin_change_role(body: ChangeRoleBody, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Set a user's role (USER_ROLE_USER | USER_ROLE_ADMIN); an admin cannot demote themself."""
    role = body.targetUserRole.strip().upper()
    if role not in ROLES:
        raise ApiError(400, f"targetUserRole must be one of {', '.join(ROLES)}", "invalid_role")
    target = _user(session, body.targetUserId)
    if target.id == admin.id and role != ROLE_ADMIN:
        raise ApiError(409, "you cannot remove your own admin role; ask another admin", "self_demotion")
    if target.role != role:
        previous, target.role = target.role, role
        record_activity(
            session,
            user_id=target.id,
            action=activities.ROLE_CHANGED,
            actor=admin,
            resource_type=activities.RESOURCE_USER,
            resource_id=target.id,
            description=f"role changed from {previous} to {role}",
            details={"from": previous, "to": role},
        )
        session.commit()
    return {"user": account_profile(session, target)}


@router.get("/v1/admin/models")
def admin_list_models(
    admin: AdminUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
    page: PageNumberQuery = 1,
    size: PageSizeQuery = 100,
) -> dict[str, Any]:
    """Every user's live deployments (one user's with `userId`), newest first; keys never shown."""
    conditions: list[Any] = [Deployment.deleted_at.is_(None), Deployment.status.not_in(GONE_STATUSES)]
    if userId and userId.strip():
        conditions.append(Deployment.user_id == canonical_user_id(userId))
    total = session.scalar(select(func.count()).select_from(Deployment).where(*conditions)) or 0
    rows = session.scalars(
        select(Deployment)
        .where(*conditions)
        .options(selectinload(Deployment.replicas), selectinload(Deployment.events))
        .order_by(Deployment.created_at.desc(), Deployment.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    records = [record.model_dump() for record in deployment_records(session, services, admin, rows)]
    return {"models": records, "page": page, "size": size, "total": int(total)}


@router.delete("/v1/admin/models/{model_id}", response_model=EmptyResult)
def admin_delete_model(
    model_id: str, admin: AdminUser, session: DbSession, services: Services, userId: UserIdQuery = None
) -> EmptyResult:
    """Delete any user's deployment (its replicas stop, its key is revoked)."""
    try:
        row = session.get(Deployment, str(canonical_user_id(model_id)))
    except ApiError:
        row = None
    if row is None:
        raise ApiError(404, f"no such model: {model_id}", "model_not_found")
    delete_deployment_record(session, services, admin, row.id, row.user_id)
    return EmptyResult()


@router.post("/v1/admin/billing/spending/summary")
def admin_spending_summary(body: TargetsBody, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Usage charges over 24 h / 7 d / 30 d for each named user (every user when none is named)."""
    if body.targetUserIds:
        users = [_user(session, user_id) for user_id in body.targetUserIds]
    else:
        users = list(session.scalars(select(User).order_by(User.created_at).limit(500)))
    now = utcnow()
    summaries = [
        {
            "userId": user.id,
            "spend24h": money(spent_since(session, user.id, now - timedelta(days=1))).model_dump(),
            "spend7d": money(spent_since(session, user.id, now - timedelta(days=7))).model_dump(),
            "spend30d": money(spent_since(session, user.id, now - timedelta(days=30))).model_dump(),
        }
        for user in users
    ]
    return {"summaries": summaries}
