"""Upstream address policy: which addresses users' external deployments may reach, by name and on connect."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from kvmesh.engines.guarded_http import GuardedConnector, guarded_get_ok
from kvmesh.engines.upstream_policy import UpstreamPolicy, UpstreamRefused

DEFAULT = UpstreamPolicy()

REFUSED_URLS = [
    "http://127.0.0.1:8080/v1",
    "http://127.8.9.10/v1",
    "http://localhost:8080",
    "http://app.localhost/",
    "http://0.0.0.0:80",
    "http://10.1.2.3",
    "http://172.16.0.1",
    "http://192.168.1.1",
    "http://169.254.169.254/latest/meta-data",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://100.100.100.200",
    "http://224.0.0.1",
    "http://[::1]:8080",
    "http://[::]:80",
    "http://[fe80::1]",
    "http://[fd00:ec2::254]",
    "http://[::ffff:127.0.0.1]:8080",
    "http://[::ffff:7f00:1]",
    "http://[64:ff9b::a9fe:a9fe]",
    "http://[2002:7f00:1::]",
    "http://2130706433:8080",
    "http://0x7f000001",
    "http://0177.0.0.1",
    "http://127.1",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_local_private_and_metadata_upstreams_are_refused(url: str) -> None:
    assert DEFAULT.url_refusal(url, resolve=False) is not None


@pytest.mark.parametrize(
    "url", ["https://api.openai.com/v1", "http://93.184.216.34:8000", "http://[2606:4700::1]"]
)
def test_public_upstreams_are_allowed(url: str) -> None:
    assert DEFAULT.url_refusal(url, resolve=False) is None


def test_the_allowlist_takes_networks_and_host_names() -> None:
    policy = UpstreamPolicy.parse(["127.0.0.1/32, 10.0.0.0/8", "llm.internal"])
    assert policy.url_refusal("http://127.0.0.1:1/v1", resolve=False) is None
    assert policy.url_refusal("http://10.9.9.9", resolve=False) is None
    assert policy.url_refusal("http://llm.internal:8000", resolve=False) is None
    assert policy.url_refusal("http://192.168.0.1", resolve=False) is not None
    assert policy.url_refusal("http://[::1]", resolve=False) is not None


def test_a_bad_allowlist_entry_is_an_error() -> None:
    with pytest.raises(ValueError, match="neither a CIDR nor a host name"):
        UpstreamPolicy.parse(["10.0.0.0/8", "http://x/"])


def test_names_are_checked_on_what_they_resolve_to_at_creation() -> None:
    name = socket.gethostname()  # /etc/hosts maps this machine's name to a loopback address here
    if not _resolves_to_loopback(name):
        pytest.skip(f"{name} does not resolve to loopback on this machine")
    refusal = DEFAULT.url_refusal(f"http://{name}:9/v1")
    assert refusal is not None and "loopback" in refusal
    assert DEFAULT.url_refusal(f"http://{name}:9/v1", resolve=False) is None


def _resolves_to_loopback(name: str) -> bool:
    try:
        return any(str(info[4][0]).startswith("127.") for info in socket.getaddrinfo(name, 80))
    except OSError:
        return False


class RebindingResolver(AbstractResolver):
    """Answers every name with loopback: what a rebinding DNS server does after the creation check."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
async def loopback_server(unused_tcp_port: int) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/health", lambda request: web.Response(text="ok"))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    yield unused_tcp_port
    await runner.cleanup()


async def _get_status(policy: UpstreamPolicy, url: str) -> int:
    connector = GuardedConnector(policy, resolver=RebindingResolver(), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
        return response.status


async def test_a_name_rebound_to_loopback_is_refused_at_connect_time(loopback_server: int) -> None:
    url = f"http://public-looking.example:{loopback_server}/health"
    with pytest.raises(aiohttp.ClientConnectorError) as failure:
        await _get_status(DEFAULT, url)
    assert isinstance(failure.value.os_error, UpstreamRefused)
    assert await _get_status(UpstreamPolicy.parse(["127.0.0.0/8"]), url) == 200


async def test_a_literal_loopback_address_is_refused_at_connect_time(loopback_server: int) -> None:
    with pytest.raises(UpstreamRefused, match="loopback"):
        await guarded_get_ok(f"http://127.0.0.1:{loopback_server}/health", {}, DEFAULT)
    assert await guarded_get_ok(f"http://127.0.0.1:{loopback_server}/health", {}, None)
