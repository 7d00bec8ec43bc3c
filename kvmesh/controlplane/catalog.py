"""The operator-editable catalog seed (catalog.toml): parse it exactly and upsert it into the store."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.controlplane.money import MoneyError, decimal_to_micros
from kvmesh.store.models import Base, CatalogModel, GpuPrice, ServerlessModel

_Row = TypeVar("_Row", bound=Base)

DEFAULT_CATALOG_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
ENGINES = ("llamacpp", "vllm", "external", "kubernetes")


class CatalogError(ValueError):
    """The catalog file is unreadable or a value in it is wrong (the message names file and key)."""


class _HasCatalogFile(Protocol):
    @property
    def catalog_file(self) -> Path | str | None: ...


@dataclass(frozen=True)
class CatalogModelSeed:
    name: str
    description: str = ""
    engine: str = "llamacpp"
    source: str = ""
    context_length: int = 8192
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerlessSeed:
    model: str
    name: str
    input_price_micros: int
    output_price_micros: int
    cached_price_micros: int
    active: bool = True


@dataclass(frozen=True)
class GpuPriceSeed:
    gpu_type: str
    cloud_provider: str
    hourly_rate_micros: int
    active: bool = True


@dataclass(frozen=True)
class Catalog:
    models: tuple[CatalogModelSeed, ...]
    serverless: tuple[ServerlessSeed, ...]
    gpu_prices: tuple[GpuPriceSeed, ...]


def default_catalog_text() -> str:
    return resources.files("kvmesh.controlplane").joinpath("catalog.toml").read_text(encoding="utf-8")


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read the catalog from `path`, or the packaged default when `path` is None/blank."""
    if path is None or not str(path).strip():
        return parse_catalog(default_catalog_text(), "<packaged catalog.toml>")
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file {file}: {exc.strerror}") from None
    return parse_catalog(text, str(file))


def parse_catalog(text: str, origin: str) -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"invalid catalog file (TOML): {origin}: {exc}") from None
    return Catalog(
        models=tuple(_model(entry, f"{origin}: models[{i}]") for i, entry in _tables(data, "models", origin)),
        serverless=tuple(
            _serverless(entry, f"{origin}: serverless[{i}]")
            for i, entry in _tables(data, "serverless", origin)
        ),
        gpu_prices=tuple(
            _gpu_price(entry, f"{origin}: gpu_prices[{i}]")
            for i, entry in _tables(data, "gpu_prices", origin)
        ),
    )


def _tables(data: dict[str, Any], key: str, origin: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CatalogError(f"{origin}: `{key}` must be an array of tables ([[{key}]])")
    return list(enumerate(value))


def _text(entry: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise CatalogError(f"{where}: `{key}` must be a non-empty string, got {value!r}")
    return value.strip()


def _price(entry: dict[str, Any], key: str, where: str) -> int:
    value = entry.get(key, "0")
    if not isinstance(value, str):
        raise CatalogError(f'{where}: `{key}` must be a decimal string such as "0.02", got {value!r}')
    try:
        micros = decimal_to_micros(value)
    except MoneyError as exc:
        raise CatalogError(f"{where}: `{key}`: {exc}") from None
    if micros < 0:
        raise CatalogError(f"{where}: `{key}` must not be negative, got {value!r}")
    return micros


def _flag(entry: dict[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, True)
    if not isinstance(value, bool):
        raise CatalogError(f"{where}: `{key}` must be true or false, got {value!r}")
    return value


def _model(entry: dict[str, Any], where: str) -> CatalogModelSeed:
    engine = _text(entry, "engine", where, "llamacpp")
    if engine not in ENGINES:
        raise CatalogError(f"{where}: `engine` must be one of {', '.join(ENGINES)}, got {engine!r}")
    context_length = entry.get("context_length", 8192)
    if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length <= 0:
        raise CatalogError(f"{where}: `context_length` must be a positive integer, got {context_length!r}")
    known = {"name", "description", "engine", "source", "context_length"}
    return CatalogModelSeed(
        name=_text(entry, "name", where),
        description=_text(entry, "description", where, ""),
        engine=engine,
        source=_text(entry, "source", where, ""),
        context_length=context_length,
        options={key: value for key, value in entry.items() if key not in known},
    )


def _serverless(entry: dict[str, Any], where: str) -> ServerlessSeed:
    model = _text(entry, "model", where)
    return ServerlessSeed(
        model=model,
        name=_text(entry, "name", where, model) or model,
        input_price_micros=_price(entry, "input_price", where),
        output_price_micros=_price(entry, "output_price", where),
        cached_price_micros=_price(entry, "cached_price", where),
        active=_flag(entry, "active", where),
    )


def _gpu_price(entry: dict[str, Any], where: str) -> GpuPriceSeed:
    return GpuPriceSeed(
        gpu_type=_text(entry, "gpu_type", where),
        cloud_provider=_text(entry, "cloud_provider", where),
        hourly_rate_micros=_price(entry, "hourly_rate", where),
        active=_flag(entry, "active", where),
    )


def _upsert(session: Session, model: type[_Row], key: dict[str, Any], values: dict[str, Any]) -> None:
    """Find the row of `model` matching every `key` column (create it if absent) and set `values`."""
    row = session.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)


def apply_catalog(session: Session, catalog: Catalog) -> None:
    """Upsert every catalog row (idempotent); rows absent from the catalog are left untouched."""
    for seed in catalog.models:
        _upsert(
            session,
            CatalogModel,
            {"name": seed.name},
            {
                "description": seed.description,
                "engine": seed.engine,
                "source": seed.source,
                "context_length": seed.context_length,
                "options": dict(seed.options),
            },
        )
    for entry in catalog.serverless:
        _upsert(
            session,
            ServerlessModel,
            {"model": entry.model},
            {
                "name": entry.name,
                "input_price_micros": entry.input_price_micros,
                "output_price_micros": entry.output_price_micros,
                "cached_price_micros": entry.cached_price_micros,
                "is_active": entry.active,
            },
        )
    for price in catalog.gpu_prices:
        _upsert(
            session,
            GpuPrice,
            {"gpu_type": price.gpu_type, "cloud_provider": price.cloud_provider},
            {"hourly_rate_micros": price.hourly_rate_micros, "is_active": price.active},
        )
    session.flush()


def seed_catalog(session: Session, settings: _HasCatalogFile) -> None:
    """Load the catalog named by `settings.catalog_file` (default: the packaged one) and upsert it.

    The caller owns the transaction (commits after)."""
    apply_catalog(session, load_catalog(settings.catalog_file))
