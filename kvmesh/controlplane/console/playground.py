"""Console playground: a chat streamed through the Gateway with the user's own account key.

The browser posts to this Control Plane (same origin, CSRF token in a header); the Control Plane
opens the Gateway stream with the user's key and passes the SSE bytes through untouched, so the
key never reaches page scripts and the request is metered like any other. The page measures
time to first token and reads the token counts from the stream's final `usage` chunk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select

from kvmesh.controlplane.console.rendering import Console, ConsoleCtx, html_errors
from kvmesh.controlplane.deployments import display_name
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.key_reveal import reveal_key
from kvmesh.store.models import ApiKey, Deployment, ServerlessModel
from kvmesh.store.users import is_key_active
from kvmesh.wire import error_body

router = APIRouter()
MAX_PROMPT_CHARS = 8000
MAX_TOKENS = 4096
STREAM_TIMEOUT = httpx.Timeout(connect=10, read=300, write=30, pool=10)


def _targets(console: Console) -> list[tuple[str, str, str]]:
    """(surface, model, label) for the user's ready deployments, then the active serverless catalog."""
    deployments = console.db.scalars(
        select(Deployment.served_name)
        .where(
            Deployment.user_id == console.user.id,
            Deployment.status == "ready",
            Deployment.deleted_at.is_(None),
        )
        .order_by(Deployment.served_name)
    ).all()
    serverless = console.db.scalars(
        select(ServerlessModel.model)
        .where(ServerlessModel.is_active.is_(True))
        .order_by(ServerlessModel.model)
    ).all()
    return [("on-demand", name, f"{display_name(name)} (your deployment)") for name in deployments] + [
        ("serverless", model, f"{model} (serverless)") for model in serverless
    ]


@router.get("/playground")
@html_errors
def playground_page(console: ConsoleCtx) -> Response:
    return console.page("playground.html", targets=_targets(console))


def _account_key(console: Console) -> str:
    rows = console.db.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == console.user.id, ApiKey.revoked_at.is_(None), ApiKey.deployment_id.is_(None))
        .order_by(ApiKey.created_at.desc())
    ).all()
    for row in rows:
        if is_key_active(row):
            key = reveal_key(console.services.secret, row)
            if key:
                return key
    raise ApiError(409, "You have no usable API key; create one on the API keys page.", "no_api_key")


def _chat_request(body: Any) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise ApiError(400, "The request must be a JSON object.", "invalid_request")
    surface, _, model = str(body.get("target", "")).partition("|")
    prompt = body.get("prompt")
    max_tokens = body.get("max_tokens", 64)
    if surface not in ("on-demand", "serverless") or not model:
        raise ApiError(400, "Choose a model.", "invalid_request")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        raise ApiError(400, f"Write a message of 1 to {MAX_PROMPT_CHARS} characters.", "invalid_request")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= MAX_TOKENS:
        raise ApiError(400, f"max_tokens must be 1 to {MAX_TOKENS}.", "invalid_request")
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return surface, model, payload


@router.post("/playground/chat")
async def playground_chat(console: ConsoleCtx, request: Request) -> Response:
    """Stream one chat reply from the Gateway (SSE passed through); errors are the wire error body."""
    try:
        console.check_csrf(request.headers.get("x-csrf-token", ""))
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON.", "invalid_json") from None
        surface, _, payload = _chat_request(body)
        key = await asyncio.to_thread(_account_key, console)
    except ApiError as exc:
        return JSONResponse(error_body(exc.message, exc.status, exc.code), status_code=exc.status)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if surface == "on-demand":
        headers["X-User-Id"] = console.user.id
    url = console.services.settings.public_gateway_base.rstrip("/") + "/v1/chat/completions"
    client = httpx.AsyncClient(timeout=STREAM_TIMEOUT)
    try:
        upstream = await client.send(
            client.build_request("POST", url, json=payload, headers=headers), stream=True
        )
    except httpx.HTTPError as exc:
        await client.aclose()
        message = f"The Gateway at {url} did not answer ({type(exc).__name__})."
        return JSONResponse(error_body(message, 502, "gateway_unreachable"), status_code=502)
    if upstream.status_code != 200:
        raw = await upstream.aread()
        await upstream.aclose()
        await client.aclose()
        try:
            error = json.loads(raw)
        except ValueError:
            error = error_body(f"The Gateway answered HTTP {upstream.status_code}.", upstream.status_code)
        return JSONResponse(error, status_code=upstream.status_code)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()
            await client.aclose()

    # `no-cache`, not `no-store`: Chromium reports a no-store fetch stream that reached its end as
    # aborted (microsoft/playwright#42742), which would read as a failed request.
    return StreamingResponse(
        relay(), media_type="text/event-stream; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )
