"""Relay a non-streamed upstream reply: good JSON byte for byte, failures as wire errors."""

from __future__ import annotations

import json
from typing import Any

from kvmesh.gateway.asgi import GatewayError, Send, send_bytes
from kvmesh.gateway.endpoints import ProxiedEndpoint
from kvmesh.gateway.metering import NO_TOKENS, TokenCounts, token_counts
from kvmesh.gateway.upstream_http import UpstreamProtocolError, UpstreamResponse


async def relay_unary(
    endpoint: ProxiedEndpoint, response: UpstreamResponse, send: Send, request_id: bytes
) -> tuple[int, TokenCounts]:
    """Send the reply to the client; returns the status the client saw and the metered tokens.

    2xx JSON goes through unchanged (its `usage` is read for metering); an unreadable body, invalid JSON
    or an upstream 5xx becomes 502 (504 on a timeout); a 404 from an engine that lacks the endpoint
    becomes 501; other 4xx pass through when they already carry an `error` object.
    """
    try:
        raw = await response.read()
    except TimeoutError as exc:
        raise GatewayError(
            504, "Upstream replica timed out while sending its reply.", "upstream_timeout"
        ) from exc
    except UpstreamProtocolError as exc:
        raise GatewayError(
            502, f"Upstream replica reply was cut off ({type(exc).__name__}).", "upstream_protocol"
        ) from exc
    status = response.status
    parsed = _json_or_none(raw)
    if 200 <= status < 300:
        if not isinstance(parsed, dict):
            raise GatewayError(
                502, "Upstream replica returned an invalid JSON body.", "upstream_invalid_json"
            )
        counts = token_counts(parsed.get("usage")) if endpoint.metered else None
        await send_bytes(send, status, raw, request_id)
        return status, counts or NO_TOKENS
    if status in (404, 405) and endpoint.missing_upstream_status != 404:
        raise GatewayError(
            endpoint.missing_upstream_status,
            f"{endpoint.path} is not supported by the engine serving this model.",
            "endpoint_not_supported",
        )
    if status >= 500:
        detail = raw[:300].decode(errors="replace").strip()
        raise GatewayError(502, f"Upstream replica answered HTTP {status}: {detail}", "upstream_status")
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        await send_bytes(send, status, raw, request_id)
        return status, NO_TOKENS
    detail = raw[:300].decode(errors="replace").strip()
    raise GatewayError(status, f"Upstream replica rejected the request: {detail}", "upstream_rejected")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
