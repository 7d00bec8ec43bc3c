"""Which config.toml keys `tm config get|set|unset` accept, and how a command-line value is typed."""

from __future__ import annotations

from dataclasses import dataclass

from kvmesh.client._config_schema import (
    BASE_URL_KEYS,
    GATEWAY_PROVIDERS,
    MANAGED_SECTION,
    OVERRIDES_SECTION,
    SECTION_KEYS,
    TOP_LEVEL_KEYS,
)


class ConfigKeyError(ValueError):
    """A key or value the user typed is not accepted; the message is one line plus an optional hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class ConfigKey:
    """A key in config.toml: `section` is None for the top level, else `overrides` or `managed`."""

    section: str | None
    name: str

    def __str__(self) -> str:
        return self.name if self.section is None else f"{self.section}.{self.name}"


def parse_config_key(text: str) -> ConfigKey:
    """`timeout_seconds`, `overrides.gateway_api_key`, `managed.gateway_user_id`, ..."""
    section, _, name = text.strip().rpartition(".")
    if section == "":
        if name in TOP_LEVEL_KEYS:
            return ConfigKey(None, name)
        if name in SECTION_KEYS:
            raise ConfigKeyError(
                f"Unsupported config key: {name}.",
                f"gateway settings live in [overrides]: use overrides.{name}",
            )
    elif section in (OVERRIDES_SECTION, MANAGED_SECTION) and (
        name in SECTION_KEYS or (section == MANAGED_SECTION and name == "synced_at")
    ):
        return ConfigKey(section, name)
    supported = ", ".join([*TOP_LEVEL_KEYS, *(f"overrides.{key}" for key in SECTION_KEYS)])
    raise ConfigKeyError(f"Unsupported config key: {text}. Supported keys: {supported}.")


def coerce_config_value(key: ConfigKey, text: str) -> str | int | float:
    """The typed TOML value for `text`, validated the way resolution will read it."""
    value = text.strip()
    if not value:
        raise ConfigKeyError(f"Invalid value for {key}: {text!r}. Expected a non-empty value.")
    if key.name == "timeout_seconds":
        number = _number(value)
        if number is None:
            raise ConfigKeyError(f"Invalid value for {key}: {text!r}. Expected a number.")
        if number <= 0:
            raise ConfigKeyError("Timeout must be greater than 0 seconds.")
        return number
    if key.name == "max_retries":
        try:
            retries = int(value, 10)
        except ValueError:
            raise ConfigKeyError(f"Invalid value for {key}: {text!r}. Expected an integer.") from None
        if retries < 0:
            raise ConfigKeyError("Max retries must be greater than or equal to 0.")
        return retries
    if key.name == "gateway_provider":
        if value.lower() not in GATEWAY_PROVIDERS:
            expected = ", ".join(GATEWAY_PROVIDERS)
            raise ConfigKeyError(f"Invalid value for {key}: {text!r}. Expected one of: {expected}.")
        return value.lower()
    if key.name in BASE_URL_KEYS or key.name == "controlplane_base":
        if not value.startswith(("http://", "https://")):
            raise ConfigKeyError(f"Invalid value for {key}: {text!r}. Expected an http:// or https:// URL.")
        return value.rstrip("/")
    return value


def _number(text: str) -> int | float | None:
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
