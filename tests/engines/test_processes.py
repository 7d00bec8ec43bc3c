"""Engine processes: log tails, engines that outlive a killed Control Plane, stopping by identity."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kvmesh.engines.process_identity import (
    is_same_process,
    process_cmdline,
    process_exists,
    process_start_ticks,
    stop_recorded_process,
)
from kvmesh.engines.processes import tail_lines

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


def test_engine_outlives_a_killed_parent_in_its_own_session(tmp_path: Path) -> None:
    """A SIGKILLed Control Plane must not take inference down with it (the next one adopts the engine)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(STANDIN), str(tmp_path / "engine.log")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    engine_pid = int(parent.stdout.readline())
    ticks = process_start_ticks(engine_pid)
    assert ticks is not None and "standin_engine" in (process_cmdline(engine_pid) or "")
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    try:
        time.sleep(1.0)
        assert is_same_process(engine_pid, ticks, "standin_engine"), "engine died with its parent"
        assert os.getsid(engine_pid) == engine_pid, "engine does not lead its own session"
    finally:
        assert stop_recorded_process(engine_pid, ticks, "standin_engine")
    assert not process_exists(engine_pid)


def test_stopping_a_recorded_process_checks_its_start_time_first(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ticks = process_start_ticks(sleeper.pid)
        assert ticks is not None
        assert not stop_recorded_process(sleeper.pid, ticks + 1)
        assert sleeper.poll() is None
        assert stop_recorded_process(sleeper.pid, ticks, "time.sleep(60)")
        assert not process_exists(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
