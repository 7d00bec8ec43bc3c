"""ASGI middleware: a request id on every response and one structured access-log line per request.

The id is the caller's `X-Request-Id` when it looks sane, else a fresh one; it is stored in the
scope state so error handlers (even the outermost 500 handler) can echo it. The access line names
method, path (never the query string), status, duration, request id and client, never headers or
bodies; the same fields ride on the record as `record.access` (a dict) for JSON log formatters.
Client-controlled fields are escaped (kvmesh.log_escape), so a `%0a` in a path cannot forge a line.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kvmesh.log_escape import escape_control
from kvmesh.wire import REQUEST_ID_HEADER

access_log = logging.getLogger("kvmesh.controlplane.access")
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HEADER = REQUEST_ID_HEADER.lower().encode()
ACCESS_FORMAT = (
    "%(method)s %(path)s %(status)s %(duration_ms).1fms request_id=%(request_id)s client=%(client)s"
)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == _HEADER:
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
    return "req-" + uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            fields = {
                "method": escape_control(str(scope.get("method", "-"))),
                "path": escape_control(str(scope.get("path", "-"))),
                "status": status["code"],
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "request_id": request_id,
                "client": escape_control(str(client[0])) if client else "-",
            }
            access_log.info(
                ACCESS_FORMAT,
                fields,
                extra={"access": fields},
            )
