"""The account audit log: `record_activity` is the only writer; rows are never updated or deleted.

Actions use the reference's enum style (`ACTIVITY_ACTION_*`). The row's `user_id` is the account the
action concerns (its owner sees it); `actor_id` is who did it (the owner, or an admin acting on it).
The caller commits: the audit row lands in the same transaction as the change it describes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvmesh.store.models import Activity, User

SIGNED_IN = "ACTIVITY_ACTION_USER_SIGNED_IN"
API_KEY_CREATED = "ACTIVITY_ACTION_API_KEY_CREATED"
API_KEYS_REVEALED = "ACTIVITY_ACTION_API_KEYS_REVEALED"
API_KEY_REVOKED = "ACTIVITY_ACTION_API_KEY_REVOKED"
DEPLOYMENT_CREATED = "ACTIVITY_ACTION_DEPLOYMENT_CREATED"
DEPLOYMENT_SCALED = "ACTIVITY_ACTION_DEPLOYMENT_SCALED"
DEPLOYMENT_DELETED = "ACTIVITY_ACTION_DEPLOYMENT_DELETED"
CREDIT_GRANTED = "ACTIVITY_ACTION_CREDIT_GRANTED"
ROLE_CHANGED = "ACTIVITY_ACTION_USER_ROLE_CHANGED"
PROFILE_UPDATED = "ACTIVITY_ACTION_USER_PROFILE_UPDATED"
TOS_ACCEPTED = "ACTIVITY_ACTION_TOS_ACCEPTED"

RESOURCE_USER = "RESOURCE_TYPE_USER"
RESOURCE_API_KEY = "RESOURCE_TYPE_API_KEY"
RESOURCE_DEPLOYMENT = "RESOURCE_TYPE_DEPLOYMENT"
RESOURCE_BALANCE = "RESOURCE_TYPE_BALANCE"


def record_activity(
    session: Session,
    *,
    user_id: str,
    action: str,
    actor: User | None,
    resource_type: str,
    resource_id: str = "",
    description: str = "",
    details: dict[str, Any] | None = None,
) -> Activity:
    """Append one audit row for `user_id`'s account; `actor` None means the system did it."""
    row = Activity(
        user_id=user_id,
        actor_id=actor.id if actor is not None else None,
        actor_type=_actor_type(actor, user_id),
        actor_display=actor.email if actor is not None else "system",
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        description=description,
        details=dict(details or {}),
    )
    session.add(row)
    return row


def _actor_type(actor: User | None, user_id: str) -> str:
    if actor is None:
        return "ACTOR_TYPE_SYSTEM"
    return "ACTOR_TYPE_USER" if actor.id == user_id else "ACTOR_TYPE_ADMIN"
