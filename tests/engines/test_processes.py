"""Engine child processes: log tails, and no orphan engine when the Control Plane process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kvmesh.engines.processes import tail_lines
from kvmesh.local.supervisor import process_cmdline

STANDIN = Path(__file__).with_name("standin_engine.py")

LAUNCHER = """
import sys, time
from pathlib import Path
from kvmesh.engines.processes import free_port, launch
process = launch([sys.executable, sys.argv[1], str(free_port())], Path(sys.argv[2]))
print(process.pid, flush=True)
time.sleep(120)
"""


def test_tail_lines_returns_the_last_lines_or_nothing(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail_lines(log, 2) == "line 98\nline 99"
    assert tail_lines(tmp_path / "missing.log") == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_engine_dies_with_a_killed_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(STANDIN), str(tmp_path / "engine.log")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    engine_pid = int(parent.stdout.readline())
    assert "standin_engine" in (process_cmdline(engine_pid) or "")
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while "standin_engine" in (process_cmdline(engine_pid) or ""):  # a zombie has an empty cmdline
        assert time.monotonic() < deadline, "engine outlived its parent"
        time.sleep(0.05)
