"""Reading and writing config.toml: plain values for resolution, tomlkit documents for editing."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kvmesh.client._config_schema import (
    MANAGED_SECTION,
    OVERRIDES_SECTION,
    SECTION_KEYS,
    ConfigError,
    is_reserved_top_level_key,
)
from kvmesh.client._files import atomic_write_text

if TYPE_CHECKING:
    import tomlkit


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Failed to read config file: {path}: {exc}") from exc


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Invalid config file (TOML): {path}: {exc}") from exc


def read_config_mapping(path: Path) -> dict[str, Any]:
    """The file as plain Python values; a missing file is an empty config."""
    text = _read_text(path)
    return {} if text is None else _parse(path, text)


def load_config_document(path: Path) -> tomlkit.TOMLDocument:
    """The file as a tomlkit document (comments and order kept); missing file -> empty document."""
    import tomlkit

    text = _read_text(path)
    if text is None:
        return tomlkit.document()
    _parse(path, text)  # same error message as resolution, from the same parser
    return tomlkit.parse(text)


def save_config_document(path: Path, doc: tomlkit.TOMLDocument | Mapping[str, Any]) -> None:
    """Write atomically with mode 0600; a tomlkit document keeps its comments and layout."""
    import tomlkit

    atomic_write_text(path, tomlkit.dumps(doc))


def _section(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if name in raw and not isinstance(value, Mapping):
        raise ConfigError(f"Invalid config file: [{name}] must be a TOML table.")
    return dict(value) if isinstance(value, Mapping) else {}


def flatten_config(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """One value per key with its source label.

    Top-level keys are `config:<key>`; `[managed]` entries are `managed:<key>` and `[overrides]`
    entries `config:<key>`, overrides winning. Top-level legacy `gateway_*` keys are ignored.
    `gateway_base`/`serverless_base` (ours) may sit at the top level or in either table; the
    tables win over the top level.
    """
    managed = _section(raw, MANAGED_SECTION)
    overrides = _section(raw, OVERRIDES_SECTION)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in raw.items():
        if not is_reserved_top_level_key(key):
            values[key] = value
            sources[key] = f"config:{key}"
    for table, label in ((managed, "managed"), (overrides, "config")):
        for key in SECTION_KEYS:
            if key in table and not _is_blank(table[key]):
                values[key] = table[key]
                sources[key] = f"{label}:{key}"
    return values, sources


def _is_blank(value: Any) -> bool:
    """A blank string in a table falls through to the next source instead of hiding it."""
    return isinstance(value, str) and not value.strip()
