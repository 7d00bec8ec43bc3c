"""`models check`, `models search-by-infra` and `models chat` (§7): fit checks and a chat via the Gateway."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.deployments import deployment_keys, get_owned_deployment, list_deployments
from kvmesh.controlplane.deps import CurrentUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import ShortText
from kvmesh.controlplane.inventory_schemas import InfraIn
from kvmesh.controlplane.key_reveal import reveal_key
from kvmesh.controlplane.model_fit import FitError, check_fit
from kvmesh.controlplane.model_record import cloud_provider_label
from kvmesh.controlplane.routes_inventory import deployment_records
from kvmesh.controlplane.wire_models import error_responses
from kvmesh.store.models import CatalogModel, Deployment

router = APIRouter(tags=["models"], responses=error_responses(502))

CHAT_TIMEOUT_S = 120.0


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    modelId: ShortText = Field(min_length=1, description="A catalog model name or one of your deployment ids")
    gpuType: ShortText = ""
    gpuCount: int = Field(default=0, ge=0, le=64)


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    infra: InfraIn = Field(default_factory=InfraIn)
    userId: ShortText | None = None
    gpuType: ShortText = ""
    gpuCount: int = Field(default=0, ge=0, le=64)


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    body: str = Field(min_length=1, max_length=200_000)
    userId: ShortText | None = None


def _catalog_row(session: Session, caller_id: str, model_id: str) -> tuple[CatalogModel, Deployment | None]:
    row = session.scalar(select(CatalogModel).where(CatalogModel.name == model_id.strip()))
    if row is not None:
        return row, None
    try:
        uuid.UUID(model_id.strip())
    except ValueError:
        raise ApiError(404, f"no such catalog model: {model_id}", "model_not_found") from None
    deployment = get_owned_deployment(session, caller_id, model_id)
    found = session.get(CatalogModel, deployment.catalog_model_id) if deployment.catalog_model_id else None
    if found is None:
        raise ApiError(404, f"deployment {model_id} has no catalog model to check", "model_not_found")
    return found, deployment


@router.post("/v1/models/check")
def check_model(body: CheckBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Memory the model needs (GPU for vLLM, host for llama.cpp) and whether it fits here / on `gpuType`."""
    row, deployment = _catalog_row(session, user.id, body.modelId)
    gpu_type = body.gpuType or (deployment.gpu_type if deployment else "")
    gpu_count = body.gpuCount or (deployment.gpu_count if deployment else 0)
    try:
        return check_fit(row, gpu_type, gpu_count).as_wire()
    except FitError as exc:
        raise ApiError(422, f"{row.name}: {exc}", "model_size_unknown") from None


@router.post("/v1/models:search-by-infra")
def search_by_infra(
    body: SearchBody, user: CurrentUser, session: DbSession, services: Services
) -> dict[str, Any]:
    """Your deployments running on the given infrastructure, and the catalog models that fit it."""
    target = resolve_user_id(user, body.userId)
    default_label = services.settings.gateway_cloud_provider
    wanted = (body.infra.cloudProvider or "").strip().upper()
    region = (body.infra.onpremRegion or body.infra.nebiusRegion or body.infra.lambdaRegion or "").strip()
    matches = [
        deployment
        for deployment in list_deployments(session, target)
        if (not wanted or cloud_provider_label(deployment, default_label) == wanted)
        and (not region or deployment.region == region)
        and (not body.gpuType or deployment.gpu_type == body.gpuType)
    ]
    fitting = []
    for row in session.scalars(select(CatalogModel).order_by(CatalogModel.name)):
        try:
            report = check_fit(row, body.gpuType, body.gpuCount)
        except FitError:
            continue
        if report.fits is not False:
            fitting.append({"modelPath": row.name, "engine": row.engine, **report.as_wire()})
    records = [record.model_dump() for record in deployment_records(session, services, user, matches)]
    return {"models": records, "catalogModels": fitting}


def _messages(text: str) -> list[dict[str, Any]]:
    """The chat `body`: a JSON messages array / `{messages}` object, or plain text for one user turn."""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
        parsed = parsed["messages"]
    if isinstance(parsed, list) and parsed and all(isinstance(item, dict) for item in parsed):
        return parsed
    return [{"role": "user", "content": text}]


@router.post("/v1/models/{model_id}:chat")
def chat_with_model(
    model_id: str, body: ChatBody, user: CurrentUser, session: DbSession, services: Services
) -> dict[str, Any]:
    """Send one chat turn to the deployment through the Gateway (its own key); `response` is the answer."""
    import httpx

    deployment = get_owned_deployment(session, resolve_user_id(user, body.userId), model_id)
    if deployment.status != "ready":
        raise ApiError(
            409, f"model {deployment.served_name!r} is {deployment.status}, not ready", "model_not_ready"
        )
    key_row = deployment_keys(session, [deployment.id]).get(deployment.id)
    key = reveal_key(services.secret, key_row) if key_row is not None else None
    if key is None:
        raise ApiError(409, "this deployment has no usable gateway key", "no_deployment_key")
    base = (deployment.endpoint or services.settings.public_gateway_base).rstrip("/")
    request = {"model": deployment.served_name, "messages": _messages(body.body)}
    headers = {"Authorization": f"Bearer {key}", "X-User-Id": deployment.user_id}
    try:
        answer = httpx.post(
            f"{base}/v1/chat/completions", json=request, headers=headers, timeout=CHAT_TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        raise ApiError(
            502, f"the gateway at {base} is unreachable: {type(exc).__name__}", "gateway_unreachable"
        ) from None
    if answer.status_code >= 400:
        raise ApiError(
            502, f"the gateway answered HTTP {answer.status_code}: {answer.text[:500]}", "gateway_error"
        )
    try:
        completion = answer.json()
        text = completion["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ApiError(502, "the gateway answered with an unexpected body", "gateway_error") from None
    return {"response": text if isinstance(text, str) else "", "completion": completion}
