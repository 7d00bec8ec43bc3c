"""Resolved settings: one value per key from flag > env > config file > built-in, with its source.

Within config.toml, `[overrides]` beats `[managed]`, and both beat the top level for the base URLs
(`gateway_base`, `serverless_base`, our addition). Unset gateway base URL = the provider's host.
Source labels match the reference client's (`--max-retries`, `TENSORMESH_MAX_RETRIES`,
`config:max_retries`, `managed:gateway_api_key`, `built-in:max_retries`, `derived-from:...`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kvmesh.client._config_file import (
    flatten_config,
    load_config_document,
    read_config_mapping,
    save_config_document,
)
from kvmesh.client._config_schema import (
    DEFAULT_CONTROLPLANE_BASE,
    DEFAULT_GATEWAY_PROVIDER,
    DEFAULT_MAX_RETRIES,
    DEFAULT_SERVERLESS_BASE,
    DEFAULT_TIMEOUT_SECONDS,
    ENV_CA_BUNDLE,
    ENV_CONTROL_PLANE_BASE_URL,
    ENV_GATEWAY_BASE_URL,
    ENV_MAX_RETRIES,
    ENV_SERVERLESS_BASE_URL,
    ENV_TIMEOUT_SECONDS,
    GATEWAY_BASES,
    GATEWAY_PROVIDERS,
    ConfigError,
    removed_key_hints,
)
from kvmesh.client._paths import auth_json_path, default_config_path
from kvmesh.client._redact import redact_secret

__all__ = [
    "ConfigError",
    "GlobalOptions",
    "Settings",
    "config_file_path",
    "load_config_document",
    "public_settings",
    "resolve_settings",
    "save_config_document",
]

_Number = TypeVar("_Number", int, float)
_PROVIDER_EXPECTED = f"one of: {', '.join(GATEWAY_PROVIDERS)}"


@dataclass(frozen=True)
class GlobalOptions:
    """The `tm` group's options that feed resolution; None = not given."""

    config_path: Path | None = None
    controlplane_base: str | None = None
    gateway_provider: str | None = None
    ca_bundle: str | None = None
    timeout: float | None = None
    max_retries: int | None = None


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to reach the Control Plane and Gateway, already validated."""

    config_path: Path
    config_exists: bool
    controlplane_base: str
    gateway_provider: str
    gateway_base: str
    serverless_base: str
    gateway_api_key: str | None
    gateway_user_id: str | None
    gateway_model_id: str | None
    ca_bundle: str | None
    timeout_seconds: float
    max_retries: int
    auth_json_path: Path
    sources: Mapping[str, str | None] = field(default_factory=dict)


def public_settings(settings: Settings) -> dict[str, Any]:
    """`tm config show` values: the reference's keys in its order (API key redacted), then ours."""
    return {
        "config_path": str(settings.config_path),
        "controlplane_base": settings.controlplane_base,
        "gateway_provider": settings.gateway_provider,
        "gateway_base": settings.gateway_base,
        "controlplane_auth_json": str(settings.auth_json_path),
        "gateway_api_key": redact_secret(settings.gateway_api_key),
        "gateway_user_id": settings.gateway_user_id,
        "gateway_model_id": settings.gateway_model_id,
        "ca_bundle": settings.ca_bundle,
        "timeout_seconds": settings.timeout_seconds,
        "max_retries": settings.max_retries,
        "serverless_base": settings.serverless_base,
    }


def _invalid(key: str, source: str, raw: object, expected: str) -> ConfigError:
    return ConfigError(f"Invalid value for {key} from {source}: {raw!r}. Expected {expected}.")


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:
            return None
    return None


class _Resolver:
    """Walks the candidates of one key in precedence order; the first non-blank value wins."""

    def __init__(self, env: Mapping[str, str], values: Mapping[str, Any], sources: Mapping[str, str]):
        self.env = env
        self.values = values
        self.sources = sources

    def candidates(
        self, key: str, flag: tuple[object, str] | None, env_key: str | None
    ) -> Iterator[tuple[object, str]]:
        if flag is not None:
            yield flag
        if env_key is not None:
            yield self.env.get(env_key), env_key
        yield self.values.get(key), self.sources.get(key, f"config:{key}")

    def string(
        self, key: str, flag: tuple[object, str] | None = None, env_key: str | None = None
    ) -> tuple[str | None, str | None]:
        for raw, source in self.candidates(key, flag, env_key):
            if raw is None:
                continue
            if not isinstance(raw, str):
                raise _invalid(key, source, raw, "a string")
            if raw.strip():
                return raw.strip(), source
        return None, None

    def number(
        self,
        key: str,
        flag: tuple[object, str],
        env_key: str,
        default: _Number,
        parse: Callable[[object], _Number | None],
        expected: str,
    ) -> tuple[_Number, str]:
        for raw, source in self.candidates(key, flag, env_key):
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            value = parse(raw)
            if value is None:
                raise _invalid(key, source, raw, expected)
            return value, source
        return default, f"built-in:{key}"

    def base_url(self, key: str, env_key: str) -> tuple[str | None, str | None]:
        value, source = self.string(key, None, env_key)
        if value is not None and source is not None and not value.startswith(("http://", "https://")):
            raise _invalid(key, source, value, "an http:// or https:// URL")
        return (value.rstrip("/") if value else None), source


def config_file_path(options: GlobalOptions, env: Mapping[str, str] | None = None) -> Path:
    """The config.toml a command reads and writes: `--config` (expanded) or the state root's."""
    return _config_location(options, os.environ if env is None else env)[0]


def _config_location(options: GlobalOptions, env: Mapping[str, str]) -> tuple[Path, str]:
    default = default_config_path(env)
    if options.config_path is None or not str(options.config_path).strip():
        return default, "built-in:config_path"
    path = Path(options.config_path).expanduser()
    return path, ("built-in:config_path" if path == default else "--config")


def _reject_removed_keys(values: Mapping[str, Any], path: Path, env: Mapping[str, str]) -> None:
    hints = removed_key_hints(env)
    found = [key for key in hints if key in values]
    if found:
        details = "\n".join(f"- {key}: {hints[key]}" for key in found)
        raise ConfigError(f"Unsupported keys in {path}: {', '.join(found)}\n{details}")


def _provider(resolver: _Resolver, flag: str | None) -> tuple[str, str]:
    for raw, source in resolver.candidates("gateway_provider", (flag, "--gateway-provider"), None):
        if raw is None:
            continue
        if not isinstance(raw, str):
            raise _invalid("gateway_provider", source, raw, _PROVIDER_EXPECTED)
        if not raw.strip():
            continue
        normalized = raw.strip().lower()
        if normalized not in GATEWAY_BASES:
            raise _invalid("gateway_provider", source, raw, _PROVIDER_EXPECTED)
        return normalized, source
    return DEFAULT_GATEWAY_PROVIDER, "built-in:gateway_provider"


def resolve_settings(options: GlobalOptions, env: Mapping[str, str] | None = None) -> Settings:
    """Read config.toml (if any) and resolve every setting; ConfigError names the key, source and value."""
    env_map: Mapping[str, str] = os.environ if env is None else env
    config_path, config_source = _config_location(options, env_map)
    raw = read_config_mapping(config_path)
    values, file_sources = flatten_config(raw)
    _reject_removed_keys(values, config_path, env_map)
    resolver = _Resolver(env_map, values, file_sources)

    cp_base, cp_source = resolver.string(
        "controlplane_base", (options.controlplane_base, "--controlplane-base"), ENV_CONTROL_PLANE_BASE_URL
    )
    provider, provider_source = _provider(resolver, options.gateway_provider)
    api_key, api_key_source = resolver.string("gateway_api_key")
    user_id, user_id_source = resolver.string("gateway_user_id")
    model_id, model_id_source = resolver.string("gateway_model_id")
    ca_bundle, ca_source = resolver.string("ca_bundle", (options.ca_bundle, "--ca-bundle"), ENV_CA_BUNDLE)
    timeout, timeout_source = resolver.number(
        "timeout_seconds",
        (options.timeout, "--timeout-seconds"),
        ENV_TIMEOUT_SECONDS,
        DEFAULT_TIMEOUT_SECONDS,
        _as_float,
        "a number",
    )
    if timeout <= 0:
        raise ConfigError("Timeout must be greater than 0 seconds.")
    retries, retries_source = resolver.number(
        "max_retries",
        (options.max_retries, "--max-retries"),
        ENV_MAX_RETRIES,
        DEFAULT_MAX_RETRIES,
        _as_int,
        "an integer",
    )
    if retries < 0:
        raise ConfigError("Max retries must be greater than or equal to 0.")
    gateway_base, gateway_base_source = resolver.base_url("gateway_base", ENV_GATEWAY_BASE_URL)
    serverless_base, serverless_source = resolver.base_url("serverless_base", ENV_SERVERLESS_BASE_URL)

    return Settings(
        config_path=config_path,
        config_exists=config_path.is_file(),
        controlplane_base=(cp_base or DEFAULT_CONTROLPLANE_BASE).rstrip("/"),
        gateway_provider=provider,
        gateway_base=gateway_base or GATEWAY_BASES[provider],
        serverless_base=serverless_base or DEFAULT_SERVERLESS_BASE,
        gateway_api_key=api_key,
        gateway_user_id=user_id,
        gateway_model_id=model_id,
        ca_bundle=str(Path(ca_bundle).expanduser()) if ca_bundle else None,
        timeout_seconds=float(timeout),
        max_retries=int(retries),
        auth_json_path=auth_json_path(env_map),
        sources={
            "config_path": config_source,
            "controlplane_base": cp_source or "built-in:controlplane_base",
            "controlplane_auth_json": "built-in:controlplane_auth_json",
            "gateway_provider": provider_source,
            "gateway_base": gateway_base_source or f"derived-from:{provider_source}",
            "gateway_api_key": api_key_source,
            "gateway_user_id": user_id_source,
            "gateway_model_id": model_id_source,
            "ca_bundle": ca_source,
            "timeout_seconds": timeout_source,
            "max_retries": retries_source,
            "serverless_base": serverless_source or "built-in:serverless_base",
        },
    )
