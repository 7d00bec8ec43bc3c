"""Pid files that prove identity: only the process we started is ever reported running or signalled."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from kvmesh.local.layout import choose_port
from kvmesh.local.supervisor import PidRecord, is_ours, read_pid_file, spawn, stop


def _sleeper(tmp_path: Path) -> PidRecord:
    argv = [sys.executable, "-c", "import time; time.sleep(60)", "kvmesh-test-sleeper"]
    return spawn(argv, tmp_path / "s.log", tmp_path / "s.pid", "kvmesh-test-sleeper")


def test_spawned_process_is_recognised_and_stop_ends_it(tmp_path: Path) -> None:
    record = _sleeper(tmp_path)
    assert read_pid_file(tmp_path / "s.pid") == record
    assert is_ours(record)
    assert stop(record, grace_s=5)
    assert not is_ours(record)


def test_a_live_pid_with_another_start_time_is_not_ours(tmp_path: Path) -> None:
    record = _sleeper(tmp_path)
    try:
        assert record.start_ticks is not None
        assert not is_ours(PidRecord(record.pid, record.start_ticks + 1, record.marker))
        assert not stop(PidRecord(record.pid, record.start_ticks + 1, record.marker))
        assert is_ours(record)
    finally:
        stop(record, grace_s=5)


def test_a_live_pid_running_something_else_is_not_ours() -> None:
    assert not is_ours(PidRecord(os.getpid(), None, "kvmesh-marker-that-is-not-in-pytest"))


def test_unreadable_pid_file_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "x.pid").write_text("not json")
    assert read_pid_file(tmp_path / "x.pid") is None
    assert read_pid_file(tmp_path / "missing.pid") is None


def test_busy_preferred_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        chosen = choose_port(taken)
    assert chosen != taken and chosen > 0
