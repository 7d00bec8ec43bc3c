"""`tm local up` serves on the port asked for or fails with one line; TIME_WAIT does not make a port busy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kvmesh.engines.processes import free_port
from kvmesh.local.bootstrap import LocalStackError
from kvmesh.local.layout import port_is_free
from kvmesh.local.stack import UpOptions, _port_for

TIME_WAIT = "06"  # the state column of /proc/net/tcp


def time_wait_on(port: int) -> None:
    """Leave a TIME_WAIT connection on `port`, as a server that closed connections and crashed does."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first, so the port's end goes to TIME_WAIT
        client.recv(1)
        client.close()
    deadline = time.monotonic() + 5
    while not _in_time_wait(port):
        assert time.monotonic() < deadline, f"no TIME_WAIT connection on port {port}"
        time.sleep(0.02)


def _in_time_wait(port: int) -> bool:
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(f":{port:04X}" == f[1][-5:] and f[3] == TIME_WAIT for f in (line.split() for line in lines))


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net/tcp to see TIME_WAIT")
def test_a_port_left_in_time_wait_counts_as_free() -> None:
    port = free_port()
    time_wait_on(port)
    assert port_is_free(port)


def test_a_port_with_a_live_listener_is_busy() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert not port_is_free(busy.getsockname()[1])


def test_a_requested_port_in_use_is_an_error_never_a_silent_move() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(LocalStackError, match=f"port {taken} for the gateway .*--gateway-port"):
            _port_for("gateway", UpOptions(gateway_port=taken), {}, {"controlplane": None})


def test_the_gateway_takes_the_port_a_running_controlplane_advertises() -> None:
    state: dict[str, Any] = {"gateway": {"port": free_port()}}
    running: dict[str, Any] = {"controlplane": object(), "gateway": None}
    assert _port_for("gateway", UpOptions(), state, running) == state["gateway"]["port"]
    with pytest.raises(LocalStackError, match="advertises the Gateway on port"):
        _port_for("gateway", UpOptions(gateway_port=free_port()), state, running)


def test_up_on_a_busy_gateway_port_fails_with_one_error_line_and_starts_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KVMESH_DATA", "KVMESH_DATABASE"))}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = str(busy.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "kvmesh", "local", "up", "--gateway-port", taken],
            env={**env, "TM_CONFIG_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"port {taken}" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "local").glob("*.pid"))
