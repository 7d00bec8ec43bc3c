"""`tm local up | status | down` as a user runs them, in an isolated state root on free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvmesh.engines.llamacpp_build import find_llama_server
from kvmesh.engines.processes import free_port
from kvmesh.local.supervisor import is_ours, process_cmdline, read_pid_file


def tm(state_root: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KVMESH_DATA", "KVMESH_DATABASE"))}
    env["TM_CONFIG_HOME"] = str(state_root)
    return subprocess.run(
        [sys.executable, "-m", "kvmesh", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_down_with_nothing_running_says_so(tmp_path: Path) -> None:
    result = tm(tmp_path, "local", "down")
    assert result.returncode == 0 and "Nothing was running" in result.stdout


def test_down_removes_a_stale_pid_file_without_signalling_anyone(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    stale = {"pid": os.getpid(), "start_ticks": 1, "marker": "controlplane serve --host 127.0.0.1 --port 1"}
    (local / "controlplane.pid").write_text(json.dumps(stale))
    assert tm(tmp_path, "local", "status").stdout.startswith("controlplane  stale")
    result = tm(tmp_path, "local", "down")
    assert result.returncode == 0 and "stale pid file" in result.stderr
    assert not (local / "controlplane.pid").exists()


def test_logs_of_a_part_that_never_ran(tmp_path: Path) -> None:
    result = tm(tmp_path, "local", "logs", "gateway")
    assert result.returncode == 0 and "no log yet" in result.stdout


@pytest.fixture
def stack_root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    tm(tmp_path, "local", "down")


@pytest.mark.engine
@pytest.mark.skipif(find_llama_server() is None, reason="llama-server not built (make llama-server)")
def test_up_twice_is_a_no_op_and_down_leaves_no_process(stack_root: Path) -> None:
    ports = ["--controlplane-port", str(free_port()), "--gateway-port", str(free_port())]
    first = tm(stack_root, "local", "up", *ports, "--engine-slots", "1")
    assert first.returncode == 0, first.stderr
    assert "Next:          tm init --sync" in first.stdout
    assert (stack_root / "auth.json").stat().st_mode & 0o777 == 0o600
    assert (stack_root / "local" / "owner-password").stat().st_mode & 0o777 == 0o600
    config = (stack_root / "config.toml").read_text()
    assert "controlplane_base = " in config

    second = tm(stack_root, "local", "up", *ports)
    assert second.returncode == 0 and "already running" in second.stderr

    status = json.loads(tm(stack_root, "local", "status", "--json").stdout)
    assert status["model"]["status"] == "ready"
    records = [read_pid_file(stack_root / "local" / f"{p}.pid") for p in ("controlplane", "gateway")]
    live = [r for r in records if r is not None and is_ours(r)]
    assert live
    engine_pids = _engine_pids(stack_root)
    assert engine_pids

    down = tm(stack_root, "local", "down")
    assert down.returncode == 0 and "Stopped:" in down.stdout
    assert not any(is_ours(r) for r in live)
    assert not [pid for pid in engine_pids if "llama-server" in (process_cmdline(pid) or "")]
    assert not list((stack_root / "local").glob("*.pid"))


def _engine_pids(state_root: Path) -> list[int]:
    """llama-server processes started for this state root (they inherit its TM_CONFIG_HOME)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            cmdline = process_cmdline(int(entry.name)) or ""
            if "llama-server" in cmdline and str(state_root) in _environ_root(int(entry.name)):
                pids.append(int(entry.name))
    return pids


def _environ_root(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/environ").read_bytes()).decode(errors="replace")
    except OSError:
        return ""
