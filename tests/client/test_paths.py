"""State root and file locations (protocol.md §1.1)."""

from __future__ import annotations

from pathlib import Path

from kvmesh.client import (
    auth_json_path,
    auth_json_path_display,
    config_path_display,
    default_config_path,
    state_root,
)


def test_state_root_uses_tm_config_home_stripped() -> None:
    assert state_root({"TM_CONFIG_HOME": "  /srv/tm  "}) == Path("/srv/tm")


def test_state_root_expands_tilde() -> None:
    assert state_root({"TM_CONFIG_HOME": "~/tm"}) == Path.home() / "tm"


def test_blank_tm_config_home_falls_back_to_home_config() -> None:
    assert state_root({"TM_CONFIG_HOME": "   "}) == Path.home() / ".config" / "tensormesh"


def test_xdg_config_home_is_not_consulted() -> None:
    assert state_root({"XDG_CONFIG_HOME": "/xdg"}) == Path.home() / ".config" / "tensormesh"


def test_config_and_auth_files_live_in_the_state_root() -> None:
    env = {"TM_CONFIG_HOME": "/srv/tm"}
    assert default_config_path(env) == Path("/srv/tm/config.toml")
    assert auth_json_path(env) == Path("/srv/tm/auth.json")


def test_display_forms_name_the_env_var_or_home() -> None:
    assert config_path_display({"TM_CONFIG_HOME": "/x"}) == "$TM_CONFIG_HOME/config.toml"
    assert auth_json_path_display({}) == "~/.config/tensormesh/auth.json"
