"""Control Plane errors: `ApiError` for expected failures, rendered with the wire error body.

Every error response, expected or not, is `kvmesh.wire.error_body(...)` with the request id
header: `ApiError` (raised by routes), Starlette `HTTPException` (404 for unknown paths, 405),
`RequestValidationError` (422, one line naming the field) and anything unexpected (500, logged
with the request id; the message never echoes internals).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kvmesh.wire import REQUEST_ID_HEADER, error_body

log = logging.getLogger("kvmesh.controlplane")


class ApiError(Exception):
    """An expected failure with an HTTP status, a one-line message and a stable `code`."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def error_response(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, status, code), status_code=status, headers=headers)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "-")


def validation_message(errors: list[dict[str, Any]] | Any) -> str:
    """One line naming the first invalid field, e.g. `cli_code: Field required`."""
    if not errors:
        return "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "request body is not valid JSON"
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    return f"{'.'.join(location) or 'request body'}: {first.get('msg', 'invalid value')}"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.code, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return error_response(exc.status_code, message, code, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, validation_message(exc.errors()), "invalid_request")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error request_id=%s %s %s: %s",
        _request_id(request),
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return error_response(
        500,
        f"internal server error (request id {_request_id(request)})",
        "internal_error",
        {REQUEST_ID_HEADER: _request_id(request)},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
