"""User API keys (`/v1/users/api-keys`): list, create and revoke the caller's gateway keys.

As in the reference, a record's `id` is the usable key itself (decrypted, shown only to its
owner): `tm init --sync` stores it as the gateway bearer secret. kvmesh adds `keyId` (the row id,
safe to log), `prefix` and `deploymentId`. A user always keeps one active account key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvmesh.controlplane import activities
from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.activities import record_activity
from kvmesh.controlplane.deps import CurrentUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import ShortText, UserIdQuery
from kvmesh.controlplane.key_reveal import reveal_key
from kvmesh.controlplane.rfc3339 import format_rfc3339, parse_rfc3339
from kvmesh.controlplane.wire_models import EmptyResult, error_responses
from kvmesh.store.models import ApiKey, utcnow
from kvmesh.store.secrets import hash_api_key
from kvmesh.store.users import AccountError, create_api_key, is_key_active, revoke_api_key

router = APIRouter(tags=["api-keys"], responses=error_responses())

MAX_ACTIVE_KEYS = 100
MAX_SCOPES = 20


class ApiKeyRecord(BaseModel):
    id: str = Field(description="The usable key (owner only); the row id when shown to an admin")
    keyId: str
    name: str
    scopes: list[str]
    prefix: str
    createdAt: str
    expiresAt: str | None
    deletedAt: str | None
    lastUsedAt: str | None
    deploymentId: str | None


class ApiKeysList(BaseModel):
    apiKeys: list[ApiKeyRecord]


class ApiKeyEnvelope(BaseModel):
    apiKey: ApiKeyRecord


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: ShortText | None = None
    name: ShortText = ""
    scopes: list[ShortText] = Field(default_factory=list, max_length=MAX_SCOPES)
    expiresAt: ShortText | None = Field(default=None, description="RFC 3339; must be in the future")


def key_record(row: ApiKey, secret: bytes, *, owner: bool) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=(reveal_key(secret, row) or row.id) if owner else row.id,
        keyId=row.id,
        name=row.name,
        scopes=list(row.scopes or []),
        prefix=row.key_prefix,
        createdAt=format_rfc3339(row.created_at) or "",
        expiresAt=format_rfc3339(row.expires_at),
        deletedAt=format_rfc3339(row.revoked_at),
        lastUsedAt=format_rfc3339(row.last_used_at),
        deploymentId=row.deployment_id,
    )


def _future_expiry(text: str | None) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        moment = parse_rfc3339(text)
    except ValueError as exc:
        raise ApiError(400, f"expiresAt: {exc}", "invalid_expires_at") from None
    if moment <= utcnow():
        raise ApiError(400, "expiresAt must be in the future", "invalid_expires_at")
    return moment


def _find_key(
    session: Session, secret: bytes, user_id: str, api_key: str | None, key_id: str | None
) -> ApiKey:
    row: ApiKey | None = None
    if api_key and api_key.strip():
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(secret, api_key.strip())))
    elif key_id and key_id.strip():
        try:
            row = session.get(ApiKey, str(uuid.UUID(key_id.strip())))
        except ValueError:
            row = None
    else:
        raise ApiError(400, "give the key to delete as `apiKey` (or its `keyId`)", "missing_api_key")
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise ApiError(404, "no such active API key", "api_key_not_found")
    return row


@router.get("/v1/users/api-keys", response_model=ApiKeysList)
def list_api_keys(
    user: CurrentUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
    includeDeleted: bool = False,
    includeDeploymentKeys: Annotated[bool, Query(description="Also list keys bound to a deployment")] = False,
) -> ApiKeysList:
    """The user's keys, newest first; revoked ones only with `includeDeleted=true`."""
    target = resolve_user_id(user, userId)
    query = (
        select(ApiKey).where(ApiKey.user_id == target).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    if not includeDeleted:
        query = query.where(ApiKey.revoked_at.is_(None))
    if not includeDeploymentKeys:
        query = query.where(ApiKey.deployment_id.is_(None))
    owner = target == user.id
    rows = session.scalars(query).all()
    records = [key_record(row, services.secret, owner=owner) for row in rows]
    if owner and any(row.revoked_at is None for row in rows):
        record_activity(
            session,
            user_id=target,
            action=activities.API_KEYS_REVEALED,
            actor=user,
            resource_type=activities.RESOURCE_API_KEY,
            description=f"listed {len(rows)} API key(s) in clear",
            details={"keyIds": [row.id for row in rows if row.revoked_at is None][:20]},
        )
        session.commit()
    return ApiKeysList(apiKeys=records)


@router.post("/v1/users/api-keys", response_model=ApiKeyEnvelope)
def create_user_api_key(
    body: CreateKeyBody, user: CurrentUser, session: DbSession, services: Services
) -> ApiKeyEnvelope:
    """Mint an account-level gateway key; the response carries it in clear (`id`)."""
    target = resolve_user_id(user, body.userId)
    expires_at = _future_expiry(body.expiresAt)
    active = session.scalar(select(func.count()).where(ApiKey.user_id == target, ApiKey.revoked_at.is_(None)))
    if int(active or 0) >= MAX_ACTIVE_KEYS:
        raise ApiError(409, f"at most {MAX_ACTIVE_KEYS} active API keys; revoke one first", "too_many_keys")
    row, _ = create_api_key(
        session,
        services.secret,
        target,
        name=body.name.strip(),
        expires_at=expires_at,
        scopes=list(body.scopes),
    )
    record_activity(
        session,
        user_id=target,
        action=activities.API_KEY_CREATED,
        actor=user,
        resource_type=activities.RESOURCE_API_KEY,
        resource_id=row.id,
        description=f"created API key {row.key_prefix}… {row.name!r}".rstrip(),
    )
    session.commit()
    return ApiKeyEnvelope(apiKey=key_record(row, services.secret, owner=target == user.id))


@router.delete("/v1/users/api-keys", response_model=EmptyResult)
def delete_user_api_key(
    user: CurrentUser,
    session: DbSession,
    services: Services,
    apiKey: Annotated[str | None, Query(max_length=500, description="The key itself")] = None,
    keyId: Annotated[str | None, Query(max_length=200)] = None,
    userId: UserIdQuery = None,
) -> EmptyResult:
    """Revoke a key; the last active account key and deployment keys are refused (409)."""
    target = resolve_user_id(user, userId)
    row = _find_key(session, services.secret, target, apiKey, keyId)
    if row.deployment_id is not None:
        raise ApiError(
            409, "this key belongs to a deployment; delete the deployment instead", "deployment_key"
        )
    if not is_key_active(row):
        row.revoked_at = utcnow()  # an expired key is already unusable: no last-key rule applies
    else:
        try:
            revoke_api_key(session, target, row.id)
        except AccountError as exc:
            raise ApiError(409, str(exc), "last_api_key") from None
    record_activity(
        session,
        user_id=target,
        action=activities.API_KEY_REVOKED,
        actor=user,
        resource_type=activities.RESOURCE_API_KEY,
        resource_id=row.id,
        description=f"revoked API key {row.key_prefix}…",
    )
    session.commit()
    return EmptyResult()
