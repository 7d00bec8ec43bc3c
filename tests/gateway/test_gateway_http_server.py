"""The Gateway's own HTTP/1.1 server: keep-alive, pipelining, request bodies, limits and backpressure."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from gateway_harness import SERVED_NAME, GatewayStore, Scenario

CHAT_PATH = "/v1/chat/completions"


def _connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (Content-Length or chunked) from `sock`, keeping extra bytes."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        assert data, "connection closed before a response head"
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    if "content-length" in headers:
        size = int(headers["content-length"])
        while len(buffer) < size:
            buffer += sock.recv(65536)
        body = bytes(buffer[:size])
        buffer[:] = buffer[size:]
        return status, headers, body
    assert headers.get("transfer-encoding") == "chunked"
    body = b""
    while True:
        while b"\r\n" not in buffer:
            buffer += sock.recv(65536)
        size_line, _, rest = bytes(buffer).partition(b"\r\n")
        size = int(size_line, 16)
        while len(rest) < size + 2:
            rest += sock.recv(65536)
        body += rest[:size]
        buffer[:] = rest[size + 2 :]
        if size == 0:
            return status, headers, body


def test_pipelined_requests_are_answered_in_order(scenario: Scenario) -> None:
    with _connect(scenario.gateway.base_url) as sock:
        sock.sendall(
            b"GET /version HTTP/1.1\r\nhost: x\r\n\r\n"
            b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"
            b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n"
        )
        buffer = bytearray()
        answers = [_read_response(sock, buffer) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 404]
    assert "version" in json.loads(answers[0][2])
    assert json.loads(answers[1][2]) == {"status": "ok"}


def test_keep_alive_serves_several_requests_on_one_connection(scenario: Scenario) -> None:
    body = json.dumps({"model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}]}).encode()
    auth = f"authorization: Bearer {scenario.tenant.key}\r\nx-user-id: {scenario.tenant.user_id}\r\n"
    request = (
        f"POST {CHAT_PATH} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    with _connect(scenario.gateway.base_url) as sock:
        buffer = bytearray()
        statuses = []
        for _ in range(3):
            sock.sendall(request)
            statuses.append(_read_response(sock, buffer)[0])
    assert statuses == [200, 200, 200]


def test_chunked_request_body_is_read_whole(scenario: Scenario) -> None:
    body = json.dumps({"model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}]}).encode()
    auth = f"authorization: Bearer {scenario.tenant.key}\r\nx-user-id: {scenario.tenant.user_id}\r\n"
    head = f"POST {CHAT_PATH} HTTP/1.1\r\nhost: x\r\n{auth}transfer-encoding: chunked\r\n\r\n".encode()
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    with _connect(scenario.gateway.base_url) as sock:
        sock.sendall(head + chunks + b"0\r\n\r\n")
        status, _, reply = _read_response(sock, bytearray())
    assert status == 200
    assert json.loads(reply)["choices"][0]["message"]["content"]


def test_body_over_the_limit_is_refused_before_the_rest_is_sent(
    store: GatewayStore, standin: Any, start_gateway: Any
) -> None:
    tenant = store.add_user()
    store.add_deployment(tenant.user_id, SERVED_NAME, [standin.base_url + "/v1"])
    gateway = start_gateway(max_body_bytes=4096)
    auth = f"authorization: Bearer {tenant.key}\r\nx-user-id: {tenant.user_id}\r\n"
    head = f"POST {CHAT_PATH} HTTP/1.1\r\nhost: x\r\n{auth}transfer-encoding: chunked\r\n\r\n".encode()
    with _connect(gateway.base_url) as sock:
        sock.sendall(head + b"%x\r\n%b\r\n" % (5000, b"a" * 5000))  # over the limit, body not finished
        status, headers, reply = _read_response(sock, bytearray())
    assert status == 413 and json.loads(reply)["error"]["code"] == "body_too_large"
    assert headers.get("connection") == "close"  # the unread rest of the body cannot be skipped
    assert standin.app.requests == 0


def test_malformed_request_line_gets_400_and_the_connection_closes(scenario: Scenario) -> None:
    with _connect(scenario.gateway.base_url) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        status, _, reply = _read_response(sock, bytearray())
        assert sock.recv(100) == b""
    assert status == 400 and "error" in json.loads(reply)


def test_head_request_gets_headers_without_a_body(scenario: Scenario) -> None:
    response = httpx.head(scenario.gateway.base_url + "/health")
    assert response.status_code == 200 and response.content == b""


GATEWAY_SCRIPT = """
import socket, sys
from kvmesh.gateway.app import create_app
from kvmesh.gateway.server import _run_loop, listening_socket
from kvmesh.gateway.settings import GatewaySettings
settings = GatewaySettings(database_url=sys.argv[1], server_secret=bytes.fromhex(sys.argv[2]))
_run_loop(create_app(settings), [listening_socket("127.0.0.1", int(sys.argv[3]), False)])
"""


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_client_that_stops_reading_pauses_the_upstream(
    store: GatewayStore, standin: Any, tmp_path: Path
) -> None:
    """10 MB streamed to a client that reads nothing for 30 s: the Gateway holds < 2 MB of it, because a
    full client socket pauses the relay, which stops reading the upstream (TCP pushes back on it). The
    loopback kernel buffers absorb most of the 10 MB on the way; they are not the Gateway's memory."""
    tenant = store.add_user()
    store.add_deployment(tenant.user_id, SERVED_NAME, [standin.base_url + "/v1"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    gateway = subprocess.Popen(
        [sys.executable, "-c", GATEWAY_SCRIPT, store.url, store.secret.hex(), str(port)], env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {tenant.key}", "X-User-Id": tenant.user_id}
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and gateway.poll() is None
                time.sleep(0.1)
        warm = {
            "model": SERVED_NAME,
            "messages": [{"role": "user", "content": "fault:flood"}],
            "stream": True,
        }
        httpx.post(base + CHAT_PATH, json={**warm, "max_tokens": 200}, headers=headers, timeout=30)
        before = _rss_kb(gateway.pid)
        events = 10_500  # ~1 KB each: about 10 MB
        body = json.dumps({**warm, "max_tokens": events}).encode()
        auth = f"authorization: Bearer {tenant.key}\r\nx-user-id: {tenant.user_id}\r\n"
        request = (
            f"POST {CHAT_PATH} HTTP/1.1\r\nhost: x\r\n{auth}content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        client.connect(("127.0.0.1", port))
        client.sendall(request)
        time.sleep(30)  # the client reads nothing meanwhile
        grown_kb = _rss_kb(gateway.pid) - before
        client.settimeout(30)
        received = 0
        tail = b""
        while not tail.endswith(b"0\r\n\r\n"):
            data = client.recv(1 << 20)
            assert data, "stream ended before its last chunk"
            received += len(data)
            tail = (tail + data)[-16:]
        client.close()
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    assert grown_kb < 2048, f"Gateway RSS grew {grown_kb} KB while the client was not reading"
    assert received > 10_000_000  # and afterwards the whole stream arrived
