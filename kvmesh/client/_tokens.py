"""auth.json: the Control Plane token object, stored verbatim (2-space JSON, 0600, atomic).

Refreshing spends the refresh token (the server rotates it and treats a second use as theft), so
parallel `tm` processes refresh one at a time under `refresh_lock` and re-read auth.json first.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kvmesh.client._files import StateFileError, atomic_write_text
from kvmesh.client._json import parse_json

REFRESH_LOCK_TIMEOUT_S = 60.0


class TokenFileError(Exception):
    """auth.json exists but cannot be used; the message is one line naming the file."""


def read_token_file(path: Path) -> dict[str, Any] | None:
    """The token object, or None when the file is absent. Requires a non-empty `access_token`."""
    if not path.exists():
        return None
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TokenFileError(f"Failed to read token file: {path}: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"Invalid token file JSON: {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise TokenFileError(f"Invalid token file JSON: expected a JSON object: {path}")
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise TokenFileError(f"Invalid token file: missing or invalid 'access_token': {path}")
    return data


def write_token_file(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(dict(data), indent=2) + "\n")


def delete_token_file(path: Path) -> bool:
    """Remove auth.json; False when there was nothing to remove."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def refresh_lock_path(auth_path: Path) -> Path:
    return auth_path.with_name(auth_path.name + ".lock")


@contextlib.contextmanager
def refresh_lock(auth_path: Path, timeout_s: float = REFRESH_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive flock on `<auth.json>.lock` (created 0600) while a refresh is in flight."""
    import fcntl

    lock_path = refresh_lock_path(auth_path)
    try:
        auth_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateFileError(lock_path, exc) from exc
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    message = f"another tm process has held {lock_path} for {timeout_s:.0f}s; try again"
                    raise TokenFileError(message) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
