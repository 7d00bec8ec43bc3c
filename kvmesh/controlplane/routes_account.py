"""The caller's account: profile update, terms-of-service acceptance and the billing address (§7)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.controlplane import activities
from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.activities import record_activity
from kvmesh.controlplane.deps import CurrentUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import ShortText, UserIdQuery
from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.controlplane.routes_auth import profile_of
from kvmesh.controlplane.wire_models import EmptyResult, error_responses
from kvmesh.store.models import BillingAddress, TosAcceptance, User

router = APIRouter(tags=["account"], responses=error_responses())

ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "state", "postalCode", "country", "phone")


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")
    firstName: ShortText | None = Field(default=None, max_length=100)
    lastName: ShortText | None = Field(default=None, max_length=100)
    displayName: ShortText | None = None
    company: ShortText | None = None


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ShortText | None = None
    company: ShortText | None = None
    line1: ShortText | None = None
    line2: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postalCode: ShortText | None = None
    country: ShortText | None = None
    phone: ShortText | None = None


class AddressUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: ShortText | None = None
    address: AddressIn


def latest_tos(session: Session, user_id: str) -> TosAcceptance | None:
    return session.scalars(
        select(TosAcceptance)
        .where(TosAcceptance.user_id == user_id)
        .order_by(TosAcceptance.id.desc())
        .limit(1)
    ).first()


def account_profile(session: Session, user: User) -> dict[str, Any]:
    """The profile record plus the terms acceptance (`tosAcceptedAt`, `tosVersion`)."""
    record = profile_of(user)
    accepted = latest_tos(session, user.id)
    record["tosAcceptedAt"] = format_rfc3339(accepted.accepted_at) if accepted else None
    record["tosVersion"] = accepted.version if accepted else None
    return record


@router.put("/v1/users/{user_id}", response_model=EmptyResult)
def update_profile(user_id: str, body: ProfileUpdate, user: CurrentUser, session: DbSession) -> EmptyResult:
    """Set the profile fields given (others stay); your own profile unless you are an admin."""
    target_id = resolve_user_id(user, user_id)
    target = session.get(User, target_id)
    if target is None:
        raise ApiError(404, f"no such user: {user_id}", "user_not_found")
    changed = {}
    for field, column in (
        ("firstName", "first_name"),
        ("lastName", "last_name"),
        ("displayName", "display_name"),
        ("company", "company"),
    ):
        value = getattr(body, field)
        if value is not None:
            setattr(target, column, value.strip())
            changed[field] = value.strip()
    if changed:
        record_activity(
            session,
            user_id=target.id,
            action=activities.PROFILE_UPDATED,
            actor=user,
            resource_type=activities.RESOURCE_USER,
            resource_id=target.id,
            description=f"updated {', '.join(changed)}",
        )
    session.commit()
    return EmptyResult()


@router.post("/v1/users/accept-tos")
def accept_tos(
    user: CurrentUser, session: DbSession, services: Services, userId: UserIdQuery = None
) -> dict[str, Any]:
    """Record that the user accepts the operator's current terms version (`--tos-version`)."""
    target = session.get(User, resolve_user_id(user, userId))
    if target is None:
        raise ApiError(404, f"no such user: {userId}", "user_not_found")
    version = services.settings.tos_version
    current = latest_tos(session, target.id)
    if current is None or current.version != version:
        session.add(TosAcceptance(user_id=target.id, version=version))
        record_activity(
            session,
            user_id=target.id,
            action=activities.TOS_ACCEPTED,
            actor=user,
            resource_type=activities.RESOURCE_USER,
            resource_id=target.id,
            description=f"accepted the terms of service, version {version}",
        )
        session.commit()
    return {"user": account_profile(session, target)}


@router.get("/v1/billing/address")
def get_billing_address(user: CurrentUser, session: DbSession, userId: UserIdQuery = None) -> dict[str, Any]:
    """The stored address (every field empty when none was saved yet)."""
    row = session.get(BillingAddress, resolve_user_id(user, userId))
    stored = dict(row.address) if row is not None else {}
    return {"address": {field: stored.get(field, "") for field in ADDRESS_FIELDS}}


@router.put("/v1/billing/address", response_model=EmptyResult)
def update_billing_address(body: AddressUpdate, user: CurrentUser, session: DbSession) -> EmptyResult:
    """Replace the fields given; fields left out keep their stored value."""
    target = resolve_user_id(user, body.userId)
    row = session.get(BillingAddress, target)
    if row is None:
        row = BillingAddress(user_id=target, address={})
        session.add(row)
    merged = dict(row.address or {})
    merged.update({key: value.strip() for key, value in body.address.model_dump(exclude_none=True).items()})
    row.address = merged
    session.commit()
    return EmptyResult()
