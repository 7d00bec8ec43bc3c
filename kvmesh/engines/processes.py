"""Engine child processes: free loopback ports, launching with a log file, readiness, log tails, stopping."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx


class EngineStartError(RuntimeError):
    """An engine did not become healthy; `log_tail` holds its last log lines for the operator."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail

    def detail(self) -> str:
        return f"{self}\n{self.log_tail}".rstrip()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail_lines(path: Path | None, count: int = 20) -> str:
    """The last `count` lines of a log file ('' when it does not exist)."""
    if path is None or not path.is_file():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        data = handle.read().decode(errors="replace")
    return "\n".join(data.splitlines()[-count:])


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when its parent dies (a crash safety net).

    libc is resolved here, in the parent, so the forked child only makes one prctl call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def launch(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    die_with_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr appended to `log_path`, in its own process group.

    With `die_with_parent` (engines) the child gets SIGTERM when this process dies; without it
    (`tm local` servers) the child outlives the command that started it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=_die_with_parent_hook() if die_with_parent else None,
        )


async def wait_until_healthy(
    health_url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout_s: float,
) -> None:
    """Poll `health_url` until it answers 200; EngineStartError if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            code = process.poll()
            if code is not None:
                message = f"engine exited with status {code} while starting"
                raise EngineStartError(message, tail_lines(log_path))
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(health_url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise EngineStartError(f"engine not healthy after {timeout_s:.0f}s", tail_lines(log_path))
            await asyncio.sleep(0.25)


async def terminate(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL after `grace_s`; always reaps the child."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait)


async def http_ok(url: str, headers: Mapping[str, str] | None = None, timeout_s: float = 3.0) -> bool:
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            return (await client.get(url, headers=dict(headers or {}))).status_code == 200
    except httpx.HTTPError:
        return False
