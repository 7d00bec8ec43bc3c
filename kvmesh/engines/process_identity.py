"""Which running process is which: pid + kernel start time, so a recycled pid is never mistaken for ours.

The Control Plane records an engine's pid and its start time (field 22 of /proc/<pid>/stat) in
the store; a restarted Control Plane adopts, checks or stops that process only while both match.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or None when unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def process_cmdline(pid: int) -> str | None:
    """The command line with arguments joined by spaces, or None when the process is not readable."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def process_exists(pid: int) -> bool:
    """Whether `pid` names a live process (a zombie counts as ended)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def is_same_process(pid: int, start_ticks: int, marker: str = "") -> bool:
    """True while `pid` is alive, started at `start_ticks` and (if given) its command line holds `marker`."""
    if not process_exists(pid) or process_start_ticks(pid) != start_ticks:
        return False
    return not marker or marker in (process_cmdline(pid) or "")


def _signal(pid: int, signum: int) -> None:
    """Signal the process group when `pid` leads one (engines run in their own session), else the pid."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def stop_recorded_process(pid: int, start_ticks: int, marker: str = "", grace_s: float = 5.0) -> bool:
    """SIGTERM a process this platform started earlier (not our child), SIGKILL after `grace_s`.

    Identity is checked before each signal; returns False (and signals nothing) when the pid is
    gone or now belongs to another process. Blocking: call it in a worker thread from async code.
    """
    if not is_same_process(pid, start_ticks, marker):
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not is_same_process(pid, start_ticks):
            return True
        time.sleep(0.05)
    if is_same_process(pid, start_ticks):
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while is_same_process(pid, start_ticks) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return True


def processes_with_env(name: str, value_prefix: str) -> list[tuple[int, int]]:
    """(pid, start ticks) of live processes whose environment has `name` starting with `value_prefix`."""
    needle = f"{name}={value_prefix}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(needle) for item in environ.split(b"\0")):
            ticks = process_start_ticks(int(entry.name))
            if ticks is not None and process_exists(int(entry.name)):
                found.append((int(entry.name), ticks))
    return found
