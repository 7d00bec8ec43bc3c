"""The public surface of `kvmesh.client` is pinned: moving code between private modules must not break it."""

from __future__ import annotations

import kvmesh.client

PUBLIC = [
    "ConfigError",
    "GlobalOptions",
    "Settings",
    "TokenFileError",
    "atomic_write_text",
    "auth_json_path",
    "config_file_path",
    "default_config_path",
    "delete_token_file",
    "load_config_document",
    "public_settings",
    "read_token_file",
    "redact_headers",
    "redact_secret",
    "resolve_settings",
    "save_config_document",
    "state_root",
    "write_token_file",
]


def test_client_exports_exactly_the_public_names() -> None:
    assert sorted(kvmesh.client.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(kvmesh.client, name) is not None


def test_documented_private_module_names_stay_importable() -> None:
    from kvmesh.cli._context import CliContext, pass_cli
    from kvmesh.cli._errors import CliError, usage_error
    from kvmesh.cli._render import emit, render
    from kvmesh.client._config import ConfigError, GlobalOptions, Settings, resolve_settings
    from kvmesh.client._files import atomic_write_text
    from kvmesh.client._paths import auth_json_path, default_config_path, state_root
    from kvmesh.client._redact import redact_headers, redact_secret
    from kvmesh.client._tokens import TokenFileError, delete_token_file, read_token_file, write_token_file

    names = (CliContext, pass_cli, CliError, usage_error, emit, render, ConfigError, GlobalOptions, Settings)
    names += (resolve_settings, atomic_write_text, auth_json_path, default_config_path, state_root)
    names += (
        redact_headers,
        redact_secret,
        TokenFileError,
        delete_token_file,
        read_token_file,
        write_token_file,
    )
    assert all(names)
