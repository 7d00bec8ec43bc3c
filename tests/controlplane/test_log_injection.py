"""Unauthenticated log injection: nothing a client sends can split or forge a server log line."""

from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from kvmesh.log_escape import EscapingFormatter, escape_control


def _raw_request(base_url: str, request_line_target: bytes, extra_headers: bytes = b"") -> bytes:
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"GET "
            + request_line_target
            + b" HTTP/1.1\r\nHost: x\r\n"
            + extra_headers
            + b"Connection: close\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_a_newline_in_the_path_does_not_forge_an_access_log_line(
    control_plane: Any, caplog: pytest.LogCaptureFixture
) -> None:
    live = control_plane()
    caplog.set_level(logging.INFO, logger="kvmesh.controlplane.access")
    reply = _raw_request(live.base_url, b"/nope%0a2026-01-01%20INFO%20admin%20granted%00%1b[31m")
    assert reply.startswith(b"HTTP/1.1 404")
    lines = [record.getMessage() for record in caplog.records if record.name == "kvmesh.controlplane.access"]
    assert len(lines) == 1
    assert "\n" not in lines[0] and "\x00" not in lines[0] and "\x1b" not in lines[0]
    assert "/nope\\n2026-01-01 INFO admin granted\\x00\\x1b[31m" in lines[0]


def test_the_server_formatter_escapes_every_message() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user said %s", ("hi\r\nFORGED\u2028",), None)
    assert EscapingFormatter("%(message)s").format(record) == "user said hi\\r\\nFORGED\\u2028"
    assert record.args == ("hi\r\nFORGED\u2028",)  # the record itself is left as it was


def test_printable_text_is_left_alone() -> None:
    assert escape_control("GET /v1/models ünïcode ✓") == "GET /v1/models ünïcode ✓"
