"""Fault: SIGKILL of the Control Plane under traffic. Inference goes on; the restarted one adopts the engine.

A real local stack (`tm local up`: Control Plane, Gateway, llama.cpp with SmolLM2-135M) serves
a client that sends chat requests through the Gateway without pause. The Control Plane is
SIGKILLed, stays down for a while, and is started again by `tm local up`. Every request must
succeed (the Gateway reads routes from the store, the engine runs in its own session), the new
Control Plane must adopt the very same engine process (same pid and start time, no second
engine), and deleting the deployment must still stop it. The Gateway port is left in TIME_WAIT
before the first `up`, as a crash leaves it: `up` must still serve on exactly that port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kvmesh.engines.llamacpp_build import find_llama_server
from kvmesh.engines.process_identity import is_same_process, process_cmdline, process_exists
from kvmesh.engines.processes import free_port
from kvmesh.local.layout import LocalLayout
from kvmesh.local.supervisor import read_pid_file
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.models import DeploymentEvent, Replica

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(find_llama_server() is None, reason="llama-server not built (make llama-server)"),
]

DOWN_S = 6.0  # how long the Control Plane stays dead while requests keep coming


def tm(state_root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KVMESH_DATA", "KVMESH_DATABASE", "TENSORMESH_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "kvmesh", *args],
        env={**env, "TM_CONFIG_HOME": str(state_root)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Traffic:
    """A client thread sending short chat requests through the Gateway until stopped."""

    url: str
    headers: dict[str, str]
    model: str
    phase: str = "warm"
    sent: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        body = {"model": self.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                phase = self.phase
                try:
                    response = client.post(self.url, json=body, headers=self.headers)
                    ok = response.status_code == 200 and response.json()["choices"][0]["message"] is not None
                    detail = f"{phase}: HTTP {response.status_code} {response.text[:200]}"
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    ok, detail = False, f"{phase}: {type(exc).__name__}: {exc}"
                self.sent[phase] = self.sent.get(phase, 0) + 1
                if not ok:
                    self.failures.append(detail)


def _leave_time_wait_on(port: int) -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()
        client.recv(1)
        client.close()


def _replica(layout: LocalLayout, deployment_id: str) -> Replica:
    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session:
            query = select(Replica).where(Replica.deployment_id == deployment_id, Replica.ordinal == 0)
            return session.execute(query).scalar_one()
    finally:
        engine.dispose()


def _events(layout: LocalLayout, deployment_id: str) -> list[str]:
    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session:
            query = select(DeploymentEvent.event_type).where(DeploymentEvent.deployment_id == deployment_id)
            return list(session.execute(query.order_by(DeploymentEvent.id)).scalars())
    finally:
        engine.dispose()


def _engines_of(state_root: Path) -> list[int]:
    """llama-server processes started for this state root (they inherit its TM_CONFIG_HOME)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or "llama-server" not in (process_cmdline(int(entry.name)) or ""):
            continue
        try:
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if f"TM_CONFIG_HOME={state_root}\0" in environ + "\0":
            found.append(int(entry.name))
    return found


@pytest.fixture
def state_root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    tm(tmp_path, "local", "down", timeout=120)


def test_a_killed_controlplane_loses_no_request_and_its_successor_adopts_the_engine(state_root: Path) -> None:
    cp_port, gw_port = free_port(), free_port()
    _leave_time_wait_on(gw_port)
    ports = ["--controlplane-port", str(cp_port), "--gateway-port", str(gw_port)]
    up = tm(state_root, "local", "up", *ports, "--engine-slots", "1", "--quiet")
    assert up.returncode == 0, up.stderr
    layout = LocalLayout.from_env({"TM_CONFIG_HOME": str(state_root)})
    assert layout.read_state()["gateway"]["port"] == gw_port
    synced = tm(state_root, "init", "--sync")
    assert synced.returncode == 0, synced.stderr
    managed = tomllib.loads((state_root / "config.toml").read_text())["managed"]
    deployment_id = str(layout.read_state()["deployment_id"])
    engine = _replica(layout, deployment_id)
    assert engine.pid and engine.pid_start_ticks and _engines_of(state_root) == [engine.pid]

    traffic = Traffic(
        url=f"http://127.0.0.1:{gw_port}/v1/chat/completions",
        headers={
            "Authorization": f"Bearer {managed['gateway_api_key']}",
            "X-User-Id": managed["gateway_user_id"],
        },
        model=managed["gateway_model_id"],
    )
    client = threading.Thread(target=traffic.run, daemon=True)
    client.start()
    try:
        time.sleep(2)
        controlplane = read_pid_file(layout.pid_file("controlplane"))
        assert controlplane is not None
        traffic.phase = "controlplane-dead"
        os.kill(controlplane.pid, signal.SIGKILL)
        time.sleep(DOWN_S)
        assert not process_exists(controlplane.pid)
        traffic.phase = "controlplane-restarting"
        again = tm(state_root, "local", "up", *ports, "--quiet")
        assert again.returncode == 0, again.stderr
        traffic.phase = "after-restart"
        time.sleep(2)
    finally:
        traffic.stop.set()
        client.join(timeout=90)

    report = {"requests": traffic.sent, "failures": len(traffic.failures)}
    print(f"\ncontrolplane-kill: {json.dumps(report)}")
    assert not traffic.failures, f"{len(traffic.failures)} failed requests, first: {traffic.failures[0]}"
    assert traffic.sent.get("controlplane-dead", 0) >= 3, traffic.sent
    adopted = _replica(layout, deployment_id)
    assert (adopted.pid, adopted.pid_start_ticks, adopted.restarts) == (engine.pid, engine.pid_start_ticks, 0)
    assert is_same_process(engine.pid, engine.pid_start_ticks)
    assert _engines_of(state_root) == [engine.pid], "a second engine was started"
    assert "ADOPTED" in _events(layout, deployment_id)

    token = json.loads((state_root / "auth.json").read_text())["access_token"]
    deleted = httpx.delete(
        f"http://127.0.0.1:{cp_port}/v1/deployments/{deployment_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert deleted.status_code in (200, 204), deleted.text
    deadline = time.monotonic() + 60
    while is_same_process(engine.pid, engine.pid_start_ticks):
        assert time.monotonic() < deadline, "deleting the deployment left its adopted engine running"
        time.sleep(0.2)
    assert _engines_of(state_root) == []
