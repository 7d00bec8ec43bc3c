"""The public face of `kvmesh.client` is pinned: moving code between private modules must not break it.

The CLI (tests/test_import_rules.py) and the tests use only these names, never `kvmesh.client._x`.
"""

from __future__ import annotations

import subprocess
import sys

import kvmesh.client

PUBLIC = [
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
    "MANAGED_SECTION",
    "MalformedResponseError",
    "MissingTokenError",
    "NO_TOKEN_MESSAGE",
    "NetworkError",
    "PROVIDER_LABELS",
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

CLIENTS = ["ControlPlaneClient", "GatewayClient", "Transport"]
ERRORS = [
    "ChatInputError",
    "ConfigError",
    "ConfigKeyError",
    "HttpStatusError",
    "InventoryError",
    "LoginError",
    "MalformedResponseError",
    "MissingTokenError",
    "NetworkError",
    "StreamEventError",
    "TokenFileError",
    "TransportError",
]


def test_client_exports_exactly_the_public_names() -> None:
    assert sorted(kvmesh.client.__all__) == PUBLIC


def test_every_public_name_resolves_and_lives_in_the_client_package() -> None:
    for name in PUBLIC:
        value = getattr(kvmesh.client, name)
        assert value is not None
        module = getattr(value, "__module__", "kvmesh.client._")
        assert module.startswith("kvmesh.client"), (name, module)


def test_clients_transport_and_errors_are_classes_on_the_face() -> None:
    for name in CLIENTS:
        assert isinstance(getattr(kvmesh.client, name), type)
    for name in ERRORS:
        assert issubclass(getattr(kvmesh.client, name), Exception)
    assert issubclass(kvmesh.client.HttpStatusError, kvmesh.client.TransportError)
    assert issubclass(kvmesh.client.NetworkError, kvmesh.client.TransportError)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        kvmesh.client.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("kvmesh.client.NoSuchThing resolved")


def test_importing_a_config_name_does_not_load_the_http_transport() -> None:
    probe = (
        "import sys\n"
        "from kvmesh.client import state_root, resolve_settings\n"
        "print('kvmesh.client._http' in sys.modules, 'kvmesh.client._controlplane' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
