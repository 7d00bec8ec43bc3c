"""The kvmesh client SDK: state files, config resolution, token storage and secret redaction."""

from kvmesh.client._config import (
    ConfigError,
    GlobalOptions,
    Settings,
    config_file_path,
    load_config_document,
    public_settings,
    resolve_settings,
    save_config_document,
)
from kvmesh.client._files import atomic_write_text
from kvmesh.client._paths import auth_json_path, default_config_path, state_root
from kvmesh.client._redact import redact_headers, redact_secret
from kvmesh.client._tokens import TokenFileError, delete_token_file, read_token_file, write_token_file

__all__ = [
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
