"""auth.json: the Control Plane token object, stored verbatim (2-space JSON, 0600, atomic)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kvmesh.client._files import atomic_write_text


class TokenFileError(Exception):
    """auth.json exists but cannot be used; the message is one line naming the file."""


def read_token_file(path: Path) -> dict[str, Any] | None:
    """The token object, or None when the file is absent. Requires a non-empty `access_token`."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
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
