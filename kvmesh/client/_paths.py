"""Where the CLI keeps its state: the state root, config.toml and auth.json."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_CONFIG_HOME = "TM_CONFIG_HOME"
CONFIG_FILE_NAME = "config.toml"
AUTH_FILE_NAME = "auth.json"


def _config_home_override(env: Mapping[str, str] | None) -> str | None:
    value = (os.environ if env is None else env).get(ENV_CONFIG_HOME)
    if value is None:
        return None
    return value.strip() or None


def state_root(env: Mapping[str, str] | None = None) -> Path:
    """`$TM_CONFIG_HOME` when set and non-blank (`~` expanded), else `~/.config/tensormesh`."""
    override = _config_home_override(env)
    if override is not None:
        return Path(override).expanduser()
    return Path.home() / ".config" / "tensormesh"


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    return state_root(env) / CONFIG_FILE_NAME


def auth_json_path(env: Mapping[str, str] | None = None) -> Path:
    """The token file is always at the state root; `--config` does not move it."""
    return state_root(env) / AUTH_FILE_NAME


def _display(path: Path, env: Mapping[str, str] | None, name: str) -> str:
    if _config_home_override(env) is not None:
        return f"${ENV_CONFIG_HOME}/{name}"
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def config_path_display(env: Mapping[str, str] | None = None) -> str:
    """How help and messages name the config file: `$TM_CONFIG_HOME/config.toml` or `~/...`."""
    return _display(default_config_path(env), env, CONFIG_FILE_NAME)


def auth_json_path_display(env: Mapping[str, str] | None = None) -> str:
    return _display(auth_json_path(env), env, AUTH_FILE_NAME)
