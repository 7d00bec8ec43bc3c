"""Console API keys: list, create (shown once), reveal to the owner, revoke after a confirmation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from kvmesh.controlplane.console.rendering import Console, ConsoleCtx, html_errors
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.key_reveal import reveal_key
from kvmesh.controlplane.routes_keys import MAX_ACTIVE_KEYS
from kvmesh.store.models import ApiKey
from kvmesh.store.users import AccountError, create_api_key, revoke_api_key

router = APIRouter()
FormField = Annotated[str, Form()]
MESSAGES = {"revoked": "The key was revoked; the Gateway refuses it from now on."}


def _active_keys(console: Console) -> list[ApiKey]:
    return list(
        console.db.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == console.user.id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        ).all()
    )


def owned_key(console: Console, key_id: str) -> ApiKey:
    """The caller's active key with this id; 404 for anyone else's (existence never leaks)."""
    try:
        row = console.db.get(ApiKey, str(uuid.UUID(key_id)))
    except ValueError:
        row = None
    if row is None or row.user_id != console.user.id or row.revoked_at is not None:
        raise ApiError(404, "No such API key.", "api_key_not_found")
    return row


def _keys_page(console: Console, **extra: Any) -> Response:
    return console.page("keys.html", keys=_active_keys(console), **extra)


@router.get("/keys")
@html_errors
def keys_page(console: ConsoleCtx, done: str = "") -> Response:
    return _keys_page(console, message=MESSAGES.get(done, ""))


@router.post("/keys")
@html_errors
def create_key(console: ConsoleCtx, name: FormField = "", csrf_token: FormField = "") -> Response:
    console.check_csrf(csrf_token)
    active = console.db.scalar(
        select(func.count()).where(ApiKey.user_id == console.user.id, ApiKey.revoked_at.is_(None))
    )
    if int(active or 0) >= MAX_ACTIVE_KEYS:
        raise ApiError(409, f"At most {MAX_ACTIVE_KEYS} active API keys; revoke one first.")
    row, secret = create_api_key(
        console.db, console.services.secret, console.user.id, name=name.strip()[:200]
    )
    console.db.commit()
    return _keys_page(console, created=row, created_secret=secret)


@router.post("/keys/{key_id}/reveal")
@html_errors
def reveal(console: ConsoleCtx, key_id: str, csrf_token: FormField = "") -> Response:
    console.check_csrf(csrf_token)
    row = owned_key(console, key_id)
    secret = reveal_key(console.services.secret, row)
    if secret is None:
        raise ApiError(409, "This key was sealed with another server secret and cannot be shown.")
    return _keys_page(console, revealed=row, revealed_secret=secret)


@router.get("/keys/{key_id}/revoke")
@html_errors
def confirm_revoke(console: ConsoleCtx, key_id: str) -> Response:
    row = owned_key(console, key_id)
    return console.page(
        "confirm.html",
        title="Revoke API key?",
        question=f"Revoke “{row.name or 'unnamed'}” ({row.key_prefix}…)? Requests using it will be refused.",
        action=f"/console/keys/{row.id}/revoke",
        button="Revoke key",
        back="/console/keys",
    )


@router.post("/keys/{key_id}/revoke")
@html_errors
def revoke(console: ConsoleCtx, key_id: str, csrf_token: FormField = "", confirm: FormField = "") -> Response:
    console.check_csrf(csrf_token)
    row = owned_key(console, key_id)
    if confirm != "yes":
        raise ApiError(400, "Confirm the revocation on the confirmation page.")
    if row.deployment_id is not None:
        raise ApiError(409, "This key belongs to a deployment; delete the deployment instead.")
    try:
        revoke_api_key(console.db, console.user.id, row.id)
    except AccountError as exc:
        raise ApiError(409, str(exc)) from None
    console.db.commit()
    return RedirectResponse("/console/keys?done=revoked", status_code=303)
