"""`/v1/activities`: the account audit log, read-only (filters and numbered pages as in §7)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from kvmesh.controlplane.access import is_admin, resolve_user_id
from kvmesh.controlplane.deps import CurrentUser, DbSession
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import PageNumberQuery, PageSizeQuery, ShortText, UserIdQuery
from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.controlplane.routes_observability import TimeQuery, parse_time
from kvmesh.controlplane.wire_models import error_responses
from kvmesh.store.models import Activity

router = APIRouter(tags=["activities"], responses=error_responses())


def activity_record(row: Activity) -> dict[str, Any]:
    return {
        "activityId": row.id,
        "actorType": row.actor_type,
        "actorId": row.actor_id,
        "actorDisplay": row.actor_display,
        "userId": row.user_id,
        "action": row.action,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "description": row.description,
        "metadata": dict(row.details or {}),
        "occurredAt": format_rfc3339(row.occurred_at),
        "recordedAt": format_rfc3339(row.occurred_at),
    }


@router.get("/v1/activities")
def list_activities(
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    action: ShortText | None = None,
    resourceType: ShortText | None = None,
    resourceId: ShortText | None = None,
    startTime: TimeQuery = None,
    endTime: TimeQuery = None,
    page: PageNumberQuery = 1,
    size: PageSizeQuery = 50,
) -> dict[str, Any]:
    """The account's activities, newest first."""
    target = resolve_user_id(user, userId)
    conditions: list[Any] = [Activity.user_id == target]
    for column, value in ((Activity.action, action), (Activity.resource_type, resourceType)):
        if value and value.strip():
            conditions.append(column == value.strip())
    if resourceId and resourceId.strip():
        conditions.append(Activity.resource_id == resourceId.strip())
    start, end = parse_time(startTime, "startTime"), parse_time(endTime, "endTime")
    if start is not None:
        conditions.append(Activity.occurred_at >= start)
    if end is not None:
        conditions.append(Activity.occurred_at <= end)
    total = session.scalar(select(func.count()).select_from(Activity).where(*conditions)) or 0
    rows = session.scalars(
        select(Activity)
        .where(*conditions)
        .order_by(Activity.occurred_at.desc(), Activity.id)
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return {
        "activities": [activity_record(row) for row in rows],
        "total": int(total),
        "page": page,
        "size": size,
    }


@router.get("/v1/activities/{activity_id}")
def get_activity(activity_id: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """One activity of the caller's account (admins: any account); 404 otherwise."""
    try:
        key = str(uuid.UUID(activity_id.strip()))
    except ValueError:
        key = ""
    row = session.get(Activity, key) if key else None
    if row is None or (row.user_id != user.id and not is_admin(user)):
        raise ApiError(404, f"no such activity: {activity_id}", "activity_not_found")
    return {"activity": activity_record(row)}
