"""The kvmesh client SDK: Control Plane and Gateway clients, transport, errors, config resolution, tokens.

This module is the public face; the `_x` modules behind it may move freely (tests/test_public_api.py
pins the names). Each name loads its module on first use, so `from kvmesh.client import state_root`
does not pay for the HTTP client, and `tm --help` imports none of it.

Errors: `TransportError` (base of `HttpStatusError` for non-2xx replies and `NetworkError` for
connection failures), `ConfigError` (a bad config value, naming the key and its source),
`TokenFileError`, `LoginError` / `MissingTokenError` / `MalformedResponseError` (Control Plane),
`StreamEventError` (SSE), `ChatInputError`, `ConfigKeyError` and `InventoryError`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs start-up time; mypy honours this name all the same
if TYPE_CHECKING:
    from typing import Any

    from kvmesh.client._chat import (
        ChatInputError,
        ThinkFilter,
        build_chat_body,
        first_message_text,
        input_model,
        load_request_json,
        normalise_chat_completion,
        split_leading_reasoning,
    )
    from kvmesh.client._config import (
        GlobalOptions,
        Settings,
        config_file_path,
        public_settings,
        resolve_settings,
    )
    from kvmesh.client._config_file import (
        load_config_document,
        read_config_mapping,
        save_config_document,
    )
    from kvmesh.client._config_keys import (
        ConfigKey,
        ConfigKeyError,
        coerce_config_value,
        parse_config_key,
    )
    from kvmesh.client._config_schema import (
        MANAGED_SECTION,
        ConfigError,
    )
    from kvmesh.client._config_template import (
        render_template,
    )
    from kvmesh.client._controlplane import (
        NO_TOKEN_MESSAGE,
        ControlPlaneClient,
        LoginError,
        MalformedResponseError,
        MissingTokenError,
        path_segment,
    )
    from kvmesh.client._files import (
        atomic_write_text,
    )
    from kvmesh.client._gateway import (
        GatewayClient,
    )
    from kvmesh.client._http import (
        Transport,
        retry_delay,
    )
    from kvmesh.client._http_response import (
        HttpStatusError,
        NetworkError,
        TransportError,
        format_status_error,
    )
    from kvmesh.client._inventory import (
        PROVIDER_LABELS,
        InventoryError,
        pick_api_key,
        pick_served_model,
        served_name,
    )
    from kvmesh.client._paths import (
        auth_json_path,
        auth_json_path_display,
        config_path_display,
        default_config_path,
        state_root,
    )
    from kvmesh.client._redact import (
        redact_headers,
        redact_secret,
    )
    from kvmesh.client._sse import (
        StreamEventError,
        chat_delta_texts,
        completion_texts,
        iter_events,
    )
    from kvmesh.client._tokens import (
        TokenFileError,
        delete_token_file,
        read_token_file,
        write_token_file,
    )

_MODULE_OF: dict[str, str] = {
    "ControlPlaneClient": "_controlplane",
    "LoginError": "_controlplane",
    "MalformedResponseError": "_controlplane",
    "MissingTokenError": "_controlplane",
    "NO_TOKEN_MESSAGE": "_controlplane",
    "path_segment": "_controlplane",
    "GatewayClient": "_gateway",
    "Transport": "_http",
    "retry_delay": "_http",
    "HttpStatusError": "_http_response",
    "NetworkError": "_http_response",
    "TransportError": "_http_response",
    "format_status_error": "_http_response",
    "StreamEventError": "_sse",
    "chat_delta_texts": "_sse",
    "completion_texts": "_sse",
    "iter_events": "_sse",
    "auth_json_path": "_paths",
    "auth_json_path_display": "_paths",
    "config_path_display": "_paths",
    "default_config_path": "_paths",
    "state_root": "_paths",
    "GlobalOptions": "_config",
    "Settings": "_config",
    "config_file_path": "_config",
    "public_settings": "_config",
    "resolve_settings": "_config",
    "ConfigError": "_config_schema",
    "MANAGED_SECTION": "_config_schema",
    "load_config_document": "_config_file",
    "read_config_mapping": "_config_file",
    "save_config_document": "_config_file",
    "ConfigKey": "_config_keys",
    "ConfigKeyError": "_config_keys",
    "coerce_config_value": "_config_keys",
    "parse_config_key": "_config_keys",
    "render_template": "_config_template",
    "TokenFileError": "_tokens",
    "delete_token_file": "_tokens",
    "read_token_file": "_tokens",
    "write_token_file": "_tokens",
    "atomic_write_text": "_files",
    "redact_headers": "_redact",
    "redact_secret": "_redact",
    "ChatInputError": "_chat",
    "ThinkFilter": "_chat",
    "build_chat_body": "_chat",
    "first_message_text": "_chat",
    "input_model": "_chat",
    "load_request_json": "_chat",
    "normalise_chat_completion": "_chat",
    "split_leading_reasoning": "_chat",
    "InventoryError": "_inventory",
    "PROVIDER_LABELS": "_inventory",
    "pick_api_key": "_inventory",
    "pick_served_model": "_inventory",
    "served_name": "_inventory",
}

__all__ = [
    "MANAGED_SECTION",
    "NO_TOKEN_MESSAGE",
    "PROVIDER_LABELS",
    "ChatInputError",
    "ConfigError",
    "ConfigKey",
    "ConfigKeyError",
    "ControlPlaneClient",
    "GatewayClient",
    "GlobalOptions",
    "HttpStatusError",
    "InventoryError",
    "LoginError",
    "MalformedResponseError",
    "MissingTokenError",
    "NetworkError",
    "Settings",
    "StreamEventError",
    "ThinkFilter",
    "TokenFileError",
    "Transport",
    "TransportError",
    "atomic_write_text",
    "auth_json_path",
    "auth_json_path_display",
    "build_chat_body",
    "chat_delta_texts",
    "coerce_config_value",
    "completion_texts",
    "config_file_path",
    "config_path_display",
    "default_config_path",
    "delete_token_file",
    "first_message_text",
    "format_status_error",
    "input_model",
    "iter_events",
    "load_config_document",
    "load_request_json",
    "normalise_chat_completion",
    "parse_config_key",
    "path_segment",
    "pick_api_key",
    "pick_served_model",
    "public_settings",
    "read_config_mapping",
    "read_token_file",
    "redact_headers",
    "redact_secret",
    "render_template",
    "resolve_settings",
    "retry_delay",
    "save_config_document",
    "served_name",
    "split_leading_reasoning",
    "state_root",
    "write_token_file",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
