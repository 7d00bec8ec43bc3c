"""Helpers for `tm` command tests: state files of a signed-in user, file modes, a closed port.

The fixtures (`standin`, `tm`) live in `tm_fixtures`, loaded with `pytest_plugins = ("tm_fixtures",)`
(no conftest, so module names stay unique across test directories)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from tm_standin import GATEWAY_KEY, USER_ID, Standin

Invoke = Callable[..., Result]
ENV_VARS = (
    "TENSORMESH_CONTROL_PLANE_BASE_URL",
    "TENSORMESH_TIMEOUT_SECONDS",
    "TENSORMESH_MAX_RETRIES",
    "TENSORMESH_CA_BUNDLE",
    "TENSORMESH_GATEWAY_BASE_URL",
    "TENSORMESH_SERVERLESS_BASE_URL",
)
HI = '[{"role":"user","content":"hi"}]'


def write_tokens(home: Path, access: str = "at-1", refresh: str | None = "rt-1") -> Path:
    data: dict[str, str] = {"access_token": access, "token_type": "Bearer"}
    if refresh is not None:
        data["refresh_token"] = refresh
    path = home / "auth.json"
    path.write_text(json.dumps(data))
    return path


def write_config(
    home: Path, standin: Standin, *, model: str | None = "smollm2-135m-instruct", user: bool = True
) -> Path:
    lines = [
        f'controlplane_base = "{standin.base}"',
        "",
        "[overrides]",
        f'gateway_api_key = "{GATEWAY_KEY}"',
        f'gateway_base = "{standin.base}"',
    ]
    if user:
        lines.append(f'gateway_user_id = "{USER_ID}"')
    if model:
        lines.append(f'gateway_model_id = "{model}"')
    path = home / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def signed_in(home: Path, standin: Standin, **config: object) -> None:
    write_tokens(home)
    write_config(home, standin, **config)  # type: ignore[arg-type]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
