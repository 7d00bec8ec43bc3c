"""Per-IP limits count the TCP peer; X-Forwarded-For is believed only from configured trusted proxies."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from kvmesh.controlplane.client_address import client_address, trusted_networks

PROXY = trusted_networks(("10.0.0.0/8",))


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"


def test_a_peer_outside_the_trusted_networks_cannot_name_another_client() -> None:
    assert client_address("198.51.100.7", ["203.0.113.9"], PROXY) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() -> None:
    assert client_address("10.0.0.2", ["1.2.3.4, 203.0.113.9, 10.0.0.5"], PROXY) == "203.0.113.9"
    assert client_address("10.0.0.2", ["1.2.3.4", "203.0.113.9"], PROXY) == "203.0.113.9"


def test_a_malformed_forwarded_chain_counts_as_the_peer() -> None:
    assert client_address("10.0.0.2", ["203.0.113.9, not-an-ip"], PROXY) == "10.0.0.2"


@contextmanager
def _serve(tmp_path: Path, *extra: str) -> Iterator[str]:
    """`kvmesh controlplane serve` as operators run it (uvicorn's own proxy-header handling included)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "kvmesh", "controlplane", "serve", "--port", str(port), "--no-engines"]
    data = tmp_path / f"cp-{port}"
    server = subprocess.Popen(
        [*command, "--database-url", f"sqlite:///{data / 'cp.db'}", "--data-dir", str(data), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def _starts_until_limited(base: str, attempts: int) -> int | None:
    """Login starts from loopback, each claiming another X-Forwarded-For; the attempt that got 429."""
    with httpx.Client(base_url=base) as client:
        for attempt in range(1, attempts + 1):
            response = client.post("/auth/cli/start", headers={"X-Forwarded-For": f"203.0.113.{attempt}"})
            if response.status_code == 429:
                return attempt
    return None


def test_a_local_caller_cannot_dodge_the_login_limit_with_x_forwarded_for(tmp_path: Path) -> None:
    with _serve(tmp_path) as base:
        assert _starts_until_limited(base, 31) == 31  # the default limit is 30 a minute per client


def test_a_trusted_proxys_x_forwarded_for_names_the_client(tmp_path: Path) -> None:
    with _serve(tmp_path, "--trusted-proxy", "127.0.0.1/32") as base:
        assert _starts_until_limited(base, 31) is None
