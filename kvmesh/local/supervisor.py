"""Background processes of the local stack: spawn with a log file, pid files that prove identity, stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    """What a pid file holds: the pid, its kernel start time and a marker its command line must contain.

    Both checks together mean a recycled pid is never mistaken for ours (and never signalled).
    """

    pid: int
    start_ticks: int | None
    marker: str

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "start_ticks": self.start_ticks, "marker": self.marker}) + "\n"


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), or None where /proc is unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def process_cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        if state.read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def is_ours(record: PidRecord) -> bool:
    """True when the pid is alive and is still the process we started."""
    if record.pid <= 0 or not _exists(record.pid):
        return False
    if record.start_ticks is not None and process_start_ticks(record.pid) not in (None, record.start_ticks):
        return False
    cmdline = process_cmdline(record.pid)
    return cmdline is None or record.marker in cmdline


def read_pid_file(path: Path) -> PidRecord | None:
    try:
        data = json.loads(path.read_text())
        return PidRecord(int(data["pid"]), data.get("start_ticks"), str(data.get("marker", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def spawn(
    argv: Sequence[str], log_path: Path, pid_path: Path, marker: str, env: Mapping[str, str] | None = None
) -> PidRecord:
    """Start `argv` detached (own session, survives this CLI), log to `log_path`, write `pid_path`."""
    from kvmesh.engines.processes import launch

    process = launch(argv, log_path, env, die_with_parent=False)
    record = PidRecord(process.pid, process_start_ticks(process.pid), marker)
    pid_path.write_text(record.to_json())
    return record


def exit_status_if_ended(record: PidRecord) -> int | None:
    """Reap our own child if it has exited (so it does not linger as a zombie); its status or None."""
    try:
        pid, status = os.waitpid(record.pid, os.WNOHANG)
    except ChildProcessError:
        return None if is_ours(record) else -1
    return os.waitstatus_to_exitcode(status) if pid else None


def stop(record: PidRecord, grace_s: float = 20.0) -> bool:
    """SIGTERM the process group, SIGKILL after `grace_s`. False when it was not ours / not running."""
    if not is_ours(record):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(record.pid, os.WNOHANG)
        if not _exists(record.pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(record.pid, 0)
    return True
