"""Atomic 0600 file writes for server-side secret files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kvmesh.store.private_files import private_dir


def write_secret_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically: a 0600 temp file in a 0700 folder, fsynced, then renamed."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
