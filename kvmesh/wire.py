"""The one error body both servers send: `{"error": {"message", "type", "code"}}` (OpenAI's shape).

Statuses follow the OpenAI API: 400 invalid_request_error, 401 authentication_error,
402 insufficient_quota, 403 permission_error, 404 not_found_error, 409 conflict_error,
422 invalid_request_error, 429 rate_limit_error, 5xx api_error / upstream_error.
Every response also carries `X-Request-Id`.
"""

from __future__ import annotations

from typing import Any

REQUEST_ID_HEADER = "X-Request-Id"
# Gateway routing policies a deployment may choose (the Gateway's registry is pinned to this by a test).
ROUTING_POLICIES = ("least_outstanding", "prefix_aware", "round_robin", "session_affinity")

ERROR_TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    501: "not_implemented_error",
    502: "upstream_error",
    503: "service_unavailable_error",
    504: "upstream_timeout_error",
}


def error_type_for(status: int) -> str:
    return ERROR_TYPE_BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(message: str, status: int, code: str | None = None, **extra: Any) -> dict[str, Any]:
    """Build the wire error object; `code` is a stable machine-readable string (e.g. `invalid_api_key`)."""
    error: dict[str, Any] = {"message": message, "type": error_type_for(status), "code": code}
    error.update(extra)
    return {"error": error}
