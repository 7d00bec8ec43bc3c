"""What config.toml may contain: sections, keys, defaults, environment variables, and ConfigError."""

from __future__ import annotations

from collections.abc import Mapping

from kvmesh.client._paths import auth_json_path_display


class ConfigError(Exception):
    """The configuration cannot be resolved; `str()` is the exact message shown after `Error: `."""


MANAGED_SECTION = "managed"
OVERRIDES_SECTION = "overrides"
GATEWAY_KEYS = ("gateway_provider", "gateway_api_key", "gateway_user_id", "gateway_model_id")
BASE_URL_KEYS = ("gateway_base", "serverless_base")
SECTION_KEYS = (*GATEWAY_KEYS, *BASE_URL_KEYS)
MANAGED_KEY_ORDER = ("synced_at", *GATEWAY_KEYS, *BASE_URL_KEYS)
TOP_LEVEL_KEYS = ("controlplane_base", "timeout_seconds", "max_retries", "ca_bundle", *BASE_URL_KEYS)

DEFAULT_CONTROLPLANE_BASE = "https://api.tensormesh.ai"
DEFAULT_SERVERLESS_BASE = "https://serverless.tensormesh.ai"
DEFAULT_GATEWAY_PROVIDER = "nebius"
GATEWAY_BASES = {
    "nebius": "https://external.nebius.tensormesh.ai",
    "lambda": "https://external.lambda.tensormesh.ai",
    "yotta": "https://external.yotta.tensormesh.ai",
}
GATEWAY_PROVIDERS = tuple(GATEWAY_BASES)
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_RETRIES = 0

ENV_CONTROL_PLANE_BASE_URL = "TENSORMESH_CONTROL_PLANE_BASE_URL"
ENV_TIMEOUT_SECONDS = "TENSORMESH_TIMEOUT_SECONDS"
ENV_MAX_RETRIES = "TENSORMESH_MAX_RETRIES"
ENV_CA_BUNDLE = "TENSORMESH_CA_BUNDLE"
ENV_GATEWAY_BASE_URL = "TENSORMESH_GATEWAY_BASE_URL"
ENV_SERVERLESS_BASE_URL = "TENSORMESH_SERVERLESS_BASE_URL"
SUPPORTED_ENV_VARS = (
    ENV_CONTROL_PLANE_BASE_URL,
    ENV_TIMEOUT_SECONDS,
    ENV_MAX_RETRIES,
    ENV_CA_BUNDLE,
    ENV_GATEWAY_BASE_URL,
    ENV_SERVERLESS_BASE_URL,
)


def removed_key_hints(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Top-level keys the reference client rejects, each with the hint it prints."""
    gone = "named profiles are no longer supported;"
    return {
        "profile": f"{gone} move those values to top-level keys in config.toml.",
        "profiles": f"{gone} flatten [profiles.*] into top-level keys in config.toml.",
        "controlplane_auth_json": f"control plane auth always uses {auth_json_path_display(env)}.",
    }


def is_reserved_top_level_key(key: str) -> bool:
    """Sections and legacy top-level `gateway_*` keys, which resolution never reads from the top level."""
    return key in (MANAGED_SECTION, OVERRIDES_SECTION, *GATEWAY_KEYS)
