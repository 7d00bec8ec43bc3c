"""The Gateway's upstream pool under the address policy: checked on the resolved address, pooled by it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kvmesh.engines.upstream_policy import UpstreamPolicy, UpstreamRefused
from kvmesh.gateway.upstream_http import UpstreamPool

STRICT = UpstreamPolicy()
LOOPBACK_ALLOWED = UpstreamPolicy.parse(["127.0.0.1/32"])


@dataclass
class TinyUpstream:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that answers 200 and records connections and Host headers."""

    port: int = 0
    connections: int = 0
    hosts: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                self.hosts.append(headers.get("host", ""))
                await reader.readexactly(int(headers.get("content-length", "0")))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[TinyUpstream]:
    tiny = TinyUpstream()
    server = await asyncio.start_server(tiny.handle, "127.0.0.1", 0)
    tiny.port = server.sockets[0].getsockname()[1]
    try:
        yield tiny
    finally:
        server.close()


async def _get(pool: UpstreamPool, url: str, policy: UpstreamPolicy | None) -> bytes:
    response = await pool.request("GET", url, [], None, 5.0, 5.0, policy)
    try:
        return await response.read()
    finally:
        response.close()


async def test_a_guarded_request_to_a_loopback_upstream_is_refused_before_connecting(
    upstream: TinyUpstream,
) -> None:
    pool = UpstreamPool(5.0, 4.0)
    with pytest.raises(UpstreamRefused, match=r"127\.0\.0\.1 is loopback"):
        await _get(pool, f"http://127.0.0.1:{upstream.port}/health", STRICT)
    assert upstream.connections == 0
    pool.close()


async def test_a_pooled_trusted_connection_is_not_reused_for_a_guarded_request(
    upstream: TinyUpstream,
) -> None:
    pool = UpstreamPool(5.0, 4.0)
    url = f"http://127.0.0.1:{upstream.port}/health"
    assert await _get(pool, url, None) == b"ok"  # trusted (an admin's deployment): kept in the pool
    assert await _get(pool, url, None) == b"ok"
    assert upstream.connections == 1
    with pytest.raises(UpstreamRefused):
        await _get(pool, url, STRICT)
    assert upstream.connections == 1
    pool.close()


async def test_a_name_is_connected_by_its_checked_address_and_keeps_its_host_header(
    upstream: TinyUpstream,
) -> None:
    """`localhost` may also resolve to ::1, which the allowlist does not cover: only 127.0.0.1 is used."""
    pool = UpstreamPool(5.0, 4.0)
    assert await _get(pool, f"http://localhost:{upstream.port}/v1/models", LOOPBACK_ALLOWED) == b"ok"
    assert upstream.hosts == [f"localhost:{upstream.port}"]
    pool.close()


async def test_a_name_that_now_resolves_to_a_private_address_is_refused(
    upstream: TinyUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: whatever the name resolved to at creation, the address of this connect is checked."""
    loop = asyncio.get_running_loop()

    async def rebinding(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    pool = UpstreamPool(5.0, 4.0)
    with pytest.raises(UpstreamRefused, match="loopback"):
        await _get(pool, f"http://public.example:{upstream.port}/v1/models", STRICT)
    assert upstream.connections == 0
    pool.close()
