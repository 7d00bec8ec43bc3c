"""The usage spool: an append-only local file each usage record is written to before its answer ends.

Each Gateway process appends JSON lines to its own file `<dir>/usage-<pid>-<random>.jsonl` (0600 from
creation, folder 0700) and holds an exclusive `flock` on it while it lives. `append()` writes the line
at once (a small `write` into the page cache, which a killed process cannot lose) and a background task
fsyncs in batches — every record written while one fsync runs is covered by the next — so a machine
crash can lose at most the last few milliseconds, and the answer never waits for the disk. On start a
Gateway takes over every spool file whose lock it can get (its writer died) and hands the records to the
store writer, which skips the ones already stored (`usage_key` is unique). Each worker process of
`--workers N` has its own file; workers starting together never take over each other's live file (a file
is locked before it gets a name the glob matches) and never replay one dead file twice (its lock is held
until it is removed). Once everything spooled is in the store the file is truncated.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SPOOL_GLOB = "usage-*.jsonl"
DATETIME_FIELDS = ("created_at",)


def encode_row(row: dict[str, Any]) -> bytes:
    out = {key: value.isoformat() if isinstance(value, datetime) else value for key, value in row.items()}
    return json.dumps(out, separators=(",", ":")).encode() + b"\n"


def decode_row(line: bytes) -> dict[str, Any] | None:
    """A spooled row, or None for a torn last line (the process died mid-write; that answer never ended)."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    if not isinstance(row, dict) or not isinstance(row.get("usage_key"), str):
        return None
    for field in DATETIME_FIELDS:
        if isinstance(row.get(field), str):
            row[field] = datetime.fromisoformat(row[field])
    return row


def _open_private(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


class UsageSpool:
    """One process's spool file. `append()` resolves once the row is on disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / f"usage-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
        self._fd = -1
        self._dirty = False
        self._syncing = False
        self._io_lock = threading.Lock()
        self._taken: list[tuple[Path, int]] = []
        self._sync_task: asyncio.Future[None] | None = None

    def open(self) -> list[dict[str, Any]]:
        """Create this process's file and return the rows left in dead Gateways' files (now ours)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Locked under a name the glob does not match, then renamed: a worker starting at the same moment
        # never sees our file unlocked, so it cannot take it over as a dead one.
        hidden = self.directory / f".{self.path.name}.new"
        self._fd = _open_private(hidden)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(hidden, self.path)
        recovered: list[dict[str, Any]] = []
        for other in sorted(self.directory.glob(SPOOL_GLOB)):
            if other == self.path:
                continue
            rows = self._take_over(other)
            if rows is not None:
                recovered.extend(rows)
        if recovered:
            # Copy them into our own file first, so dying again before they are stored loses nothing.
            os.write(self._fd, b"".join(encode_row(row) for row in recovered))
            os.fsync(self._fd)
        for other, fd in self._taken:
            with contextlib.suppress(FileNotFoundError):
                other.unlink()
            os.close(fd)  # the lock is held until the file is gone: no second worker replays it
        self._taken.clear()
        return recovered

    def _take_over(self, path: Path) -> list[dict[str, Any]] | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)  # another starting worker took it over and removed it
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read()
        except (BlockingIOError, FileNotFoundError):  # a live Gateway owns it, or it is gone
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        rows = [row for line in data.splitlines() if line.strip() and (row := decode_row(line)) is not None]
        self._taken.append((path, fd))
        log.info("usage spool: recovered %d records from %s", len(rows), path.name)
        return rows

    def append(self, row: dict[str, Any]) -> None:
        """Write the row to the file now; an fsync covering it follows in the background."""
        self._write(encode_row(row))
        self._dirty = True
        if not self._syncing:
            self._syncing = True
            self._sync_task = asyncio.ensure_future(self._sync_loop())

    @property
    def idle(self) -> bool:
        return not self._syncing and not self._dirty

    def truncate(self) -> None:
        """Empty the file; only call when every spooled row is in the store and no append is running."""
        if self._fd >= 0 and self.idle:
            with self._io_lock:
                os.ftruncate(self._fd, 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def _sync_loop(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                try:
                    await asyncio.to_thread(os.fsync, self._fd)
                except OSError as exc:
                    log.error("usage spool fsync failed: %s", exc)
        finally:
            self._syncing = False

    def _write(self, data: bytes) -> None:
        with self._io_lock:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
