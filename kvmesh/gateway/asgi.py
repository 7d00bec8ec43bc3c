"""Bare ASGI plumbing for the hot path: headers, body reading, JSON and wire-error responses."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from kvmesh.wire import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# An ASGI extension of kvmesh's own server (`http_server`): the request's body writer, usable from
# protocol callbacks. Under another ASGI server it is absent and replies go through `send`.
DIRECT_BODY_EXTENSION = "kvmesh.direct_body"

JSON_CONTENT_TYPE = (b"content-type", b"application/json")
SSE_CONTENT_TYPE = (b"content-type", b"text/event-stream; charset=utf-8")


class DirectBody(Protocol):
    """Writes the body of a started response without awaiting; flow control by callbacks."""

    @property
    def paused(self) -> bool: ...

    def write(self, body: bytes) -> None: ...

    @property
    def client_lost(self) -> bool:
        """The client's connection is gone (the lost callback, if any, has been called)."""
        ...

    def set_flow_callbacks(
        self, on_writable: Callable[[], None] | None, on_lost: Callable[[], None] | None
    ) -> None: ...


def direct_body(scope: Scope) -> DirectBody | None:
    extensions = scope.get("extensions")
    return extensions.get(DIRECT_BODY_EXTENSION) if extensions else None


class GatewayError(Exception):
    """An error answered with the wire body (`kvmesh.wire.error_body`) and `status`."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class RequestHeaders:
    """The few request headers the Gateway reads, picked out in one pass."""

    __slots__ = ("authorization", "content_length", "request_id", "session_id", "user_id")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.authorization = b""
        self.user_id = b""
        self.request_id = b""
        self.session_id = b""
        self.content_length = -1
        for name, value in raw:
            if name == b"authorization":
                self.authorization = value
            elif name == b"x-user-id":
                self.user_id = value
            elif name == b"x-request-id":
                self.request_id = value
            elif name == b"x-session-id":
                self.session_id = value
            elif name == b"content-length" and value.isdigit():
                self.content_length = int(value)


async def read_body(receive: Receive, limit: int, declared_length: int = -1) -> bytes:
    """The whole request body; 413 as soon as the declared length or the bytes received pass `limit`."""
    if declared_length > limit:
        raise GatewayError(413, f"Request body is larger than {limit} bytes.", "body_too_large")
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError(
                400, "Client disconnected before sending the whole body.", "client_disconnected"
            )
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, f"Request body is larger than {limit} bytes.", "body_too_large")
        if not message.get("more_body", False):
            return chunk if not parts else b"".join([*parts, chunk])
        parts.append(chunk)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    request_id: bytes,
    content_type: tuple[bytes, bytes] = JSON_CONTENT_TYPE,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                content_type,
                (b"x-request-id", request_id),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any, request_id: bytes) -> None:
    await send_bytes(send, status, json.dumps(payload).encode(), request_id)


async def send_error(send: Send, error: GatewayError, request_id: bytes) -> None:
    await send_json(send, error.status, error_body(error.message, error.status, error.code), request_id)


def sse_error_event(message: str, status: int, code: str) -> bytes:
    """A final SSE event the OpenAI client raises as an APIError (`{"error": {...}}`)."""
    return b"data: " + json.dumps(error_body(message, status, code)).encode() + b"\n\n"
