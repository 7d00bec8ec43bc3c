"""App-level behaviour: open endpoints, metrics, and usage flushed on a clean shutdown."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from gateway_harness import SERVED_NAME, GatewayStore, Scenario

from kvmesh import __version__
from kvmesh.gateway.app import create_app
from kvmesh.gateway.settings import GatewaySettings


def test_health_and_version_need_no_key(scenario: Scenario) -> None:
    base = scenario.gateway.base_url
    assert httpx.get(base + "/health").json() == {"status": "ok"}
    version = httpx.get(base + "/version")
    assert version.json() == {"version": __version__} and version.headers["x-request-id"]


def test_metrics_count_requests_and_tokens(scenario: Scenario) -> None:
    body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    httpx.post(
        scenario.gateway.base_url + "/v1/chat/completions", json=body, headers=scenario.on_demand_headers()
    )
    text = httpx.get(scenario.gateway.base_url + "/metrics").text
    assert (
        'kvmesh_gateway_requests_total{endpoint="/v1/chat/completions",status="200",surface="on-demand"} 1.0'
        in text
    )
    assert 'kvmesh_gateway_tokens_total{kind="completion",surface="on-demand"} 3.0' in text


def test_wrong_method_is_405(scenario: Scenario) -> None:
    response = httpx.get(scenario.gateway.base_url + "/v1/chat/completions")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_clean_shutdown_writes_every_pending_record(store: GatewayStore, standin: Any) -> None:
    tenant = store.add_user()
    store.add_deployment(tenant.user_id, SERVED_NAME, [standin.base_url + "/v1"])
    settings = GatewaySettings(
        database_url=store.url,
        server_secret=store.secret,
        usage_flush_interval=3600,
        upstream_allowlist=("127.0.0.1/32",),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    headers = {"Authorization": f"Bearer {tenant.key}", "X-User-Id": tenant.user_id}
    body = {"model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(5):
        httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers=headers)
    assert store.usage_count() == 0
    server.should_exit = True
    thread.join(timeout=30)
    assert store.usage_count() == 5


def test_serve_runs_the_gateway_with_workers(tmp_path: Path) -> None:
    """`serve()` (what `kvmesh gateway serve` calls) starts uvicorn workers on the default-style store."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'kvmesh.db'}"
    code = (
        "from pathlib import Path; from kvmesh.gateway.server import serve; "
        f"serve('127.0.0.1', {port}, {url!r}, workers=2, data_dir=Path({str(tmp_path)!r}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert (tmp_path / "server-secret").stat().st_mode & 0o777 == 0o600
    finally:
        proc.terminate()
        proc.wait(timeout=30)
