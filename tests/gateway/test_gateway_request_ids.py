"""The Gateway echoes (and logs) a caller's X-Request-Id only when it is plain visible ASCII."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from gateway_harness import LiveGateway


def _response_request_id(base_url: str, request_id: bytes) -> bytes:
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: "
            + request_id
            + b"\r\nConnection: close\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    for line in reply.split(b"\r\n"):
        if line.lower().startswith(b"x-request-id:"):
            return line.split(b":", 1)[1].strip()
    raise AssertionError(f"no X-Request-Id in {reply!r}")


def test_a_request_id_with_control_characters_is_replaced(start_gateway: Callable[..., LiveGateway]) -> None:
    gateway = start_gateway()
    assert _response_request_id(gateway.base_url, b"abc-123") == b"abc-123"
    replaced = _response_request_id(gateway.base_url, b"abc\x85\xe2\x80\xa8forged")
    assert replaced != b"abc\x85\xe2\x80\xa8forged" and all(0x21 <= byte <= 0x7E for byte in replaced)
