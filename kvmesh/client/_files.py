"""Atomic, private (0600) writes for the CLI's state files; a failed write is one StateFileError line."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class StateFileError(OSError):
    """A state file could not be written (read-only state root, disk full, ...); `str()` is one line.

    An OSError, so callers that already catch OSError keep working; the CLI prints it as `Error:`.
    """

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = path

    def __str__(self) -> str:
        return f"Cannot write {self.path}: {self.strerror}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see the old file or the whole new one, never a part.

    The temp file `.<name>.<random>.tmp` lives in the same directory (same filesystem, so
    `os.replace` is atomic), is 0600 before any byte is written, and is removed on failure
    (the old file is then untouched). Any OSError comes out as a StateFileError.
    """
    try:
        _atomic_write(path, text)
    except StateFileError:
        raise
    except OSError as exc:
        raise StateFileError(path, exc) from exc


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        os.chmod(path, 0o600)
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def ensure_room_for(path: Path, size: int) -> None:
    """Write and remove a `size`-byte scratch file beside `path`; StateFileError when that fails.

    Called before an action that cannot be undone (spending a refresh token) whose result must
    then be saved: a read-only or full state root fails here, while the old file is still valid.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".room", dir=path.parent)
    except OSError as exc:
        raise StateFileError(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"\0" * size)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise StateFileError(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
