"""`tm config`: show the resolved configuration and edit config.toml without losing its comments."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import CliError, usage_error
from kvmesh.cli._render import emit
from kvmesh.client import (
    MANAGED_SECTION,
    ConfigError,
    ConfigKey,
    ConfigKeyError,
    auth_json_path,
    coerce_config_value,
    config_file_path,
    load_config_document,
    parse_config_key,
    public_settings,
    read_config_mapping,
    redact_secret,
    render_template,
    save_config_document,
    state_root,
)


@click.group(name="config")
def config() -> None:
    """Show and edit config.toml.

    \b
    Examples:
      tm config init
      tm config show --sources
      tm config set overrides.gateway_user_id 1b4e28ba-2fa1-11d2-883f-0016d3cca427
    """


@config.command(name="show")
@click.option(
    "--sources", is_flag=True, default=False, help="Include where each resolved config value came from."
)
@pass_cli
def show(cli: CliContext, sources: bool) -> None:
    """Print resolved configuration (secrets redacted).

    \b
    Examples:
      tm config show
      tm --output json config show --sources
    """
    settings = cli.settings
    data: dict[str, Any] = public_settings(settings)
    if sources:
        data = {"values": data, "sources": dict(settings.sources)}
    emit(cli, data)


@config.command(name="init")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Path to write the config file [default: the state root's config.toml].",
)
@click.option(
    "--force",
    is_flag=True,
    default=False,
    help="Overwrite starter sections if the file exists, while preserving existing [managed] values.",
)
@pass_cli
def init(cli: CliContext, path: str | None, force: bool) -> None:
    """Write a starter config template (mode 0600) and print its path.

    \b
    Examples:
      tm config init
      tm config init --path ./tensormesh.toml
    """
    target = Path(path).expanduser() if path else config_file_path(cli.options, cli.env)
    if target.exists() and not force:
        raise CliError(f"Config already exists: {target} (use --force to overwrite)")
    managed: Mapping[str, Any] | None = None
    if target.exists():
        existing = _read(target).get(MANAGED_SECTION)
        if existing is not None and not isinstance(existing, Mapping):
            raise CliError(f"Invalid config file: {target}: [managed] must be a TOML table.")
        managed = existing
    save_text(target, render_template(managed))
    click.echo(str(target))


@config.command(name="path")
@pass_cli
def path_cmd(cli: CliContext) -> None:
    """Print the config file path commands use.

    The file may not exist yet; `--config` changes it, `TM_CONFIG_HOME` moves the default.

    \b
    Examples:
      tm config path
      tm --output json config path
    """
    target = config_file_path(cli.options, cli.env)
    if cli.output == "text":
        click.echo(str(target))
        return
    data = {
        "config_path": str(target),
        "config_exists": target.is_file(),
        "auth_json_path": str(auth_json_path(cli.env)),
        "state_root": str(state_root(cli.env)),
    }
    emit(cli, data, raw_text=str(target))


@config.command(name="get")
@click.argument("key")
@pass_cli
def get(cli: CliContext, key: str) -> None:
    """Print one resolved setting or config.toml key.

    Plain names (the keys of `config show`) print the effective value after precedence; `overrides.<key>` and
    `managed.<key>` print what config.toml holds. Exits 1 when the value is unset.

    \b
    Examples:
      tm config get gateway_base
      tm config get managed.synced_at
    """
    source: str | None
    if "." in key:
        value, source = _file_value(cli, _parse_key(key))
    else:
        values = public_settings(cli.settings)
        if key not in values:
            raise usage_error(f"Unknown setting: {key}. Known settings: {', '.join(values)}.")
        value, source = values[key], cli.settings.sources.get(key)
    if value is None:
        raise CliError(f"{key} is not set.")
    if cli.output == "text":
        click.echo(str(value))
        return
    emit(cli, {"key": key, "value": value, "source": source}, raw_text=str(value))


@config.command(name="set")
@click.argument("key")
@click.argument("value")
@pass_cli
def set_cmd(cli: CliContext, key: str, value: str) -> None:
    """Set a top-level or [overrides] key in config.toml.

    Comments and key order are kept; the file stays 0600. `[managed]` belongs to
    `tm init --sync` and is not edited by hand here.

    \b
    Examples:
      tm config set timeout_seconds 60
      tm config set gateway_base http://127.0.0.1:8081
      tm config set overrides.gateway_api_key tmk_...
    """
    config_key = _parse_key(key)
    if config_key.section == MANAGED_SECTION:
        raise usage_error(
            f"Refusing to edit {config_key}: [managed] is rewritten by `tm init --sync`.\n"
            f"Hint: run `tm init --sync`, or set overrides.{config_key.name} to override it."
        )
    try:
        typed = coerce_config_value(config_key, value)
    except ConfigKeyError as exc:
        raise usage_error(str(exc)) from exc
    target = config_file_path(cli.options, cli.env)
    doc = _load(target)
    table = _table(doc, config_key, target, create=True)
    table[config_key.name] = typed
    save_config_document(target, doc)
    cli.reset_settings()
    shown = redact_secret(str(typed)) if "api_key" in config_key.name else typed
    if not cli.quiet:
        click.echo(f"Set {config_key} = {shown} in {target}")


@config.command(name="unset")
@click.argument("key")
@pass_cli
def unset(cli: CliContext, key: str) -> None:
    """Remove a key from config.toml.

    The setting falls back to the next source (env var, [managed], built-in default).

    \b
    Examples:
      tm config unset timeout_seconds
      tm config unset overrides.gateway_model_id
    """
    config_key = _parse_key(key)
    target = config_file_path(cli.options, cli.env)
    doc = _load(target)
    table = _table(doc, config_key, target, create=False)
    if table is None or config_key.name not in table:
        if not cli.quiet:
            click.echo(f"Not set: {config_key} in {target}")
        return
    del table[config_key.name]
    save_config_document(target, doc)
    cli.reset_settings()
    if not cli.quiet:
        click.echo(f"Unset {config_key} in {target}")


def save_text(target: Path, text: str) -> None:
    from kvmesh.client import atomic_write_text

    try:
        atomic_write_text(target, text)
    except OSError as exc:
        raise CliError(f"Failed to write config file: {target}: {exc}") from exc


def _parse_key(key: str) -> ConfigKey:
    try:
        return parse_config_key(key)
    except ConfigKeyError as exc:
        message = str(exc) if exc.hint is None else f"{exc}\nHint: {exc.hint}"
        raise usage_error(message) from exc


def _read(target: Path) -> dict[str, Any]:
    try:
        return read_config_mapping(target)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def _load(target: Path) -> Any:
    try:
        return load_config_document(target)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def _table(doc: Any, key: ConfigKey, target: Path, *, create: bool) -> Any:
    """The container `key` lives in (the document itself for top-level keys)."""
    if key.section is None:
        return doc
    if key.section not in doc:
        if not create:
            return None
        import tomlkit

        doc[key.section] = tomlkit.table()
    table = doc[key.section]
    if not isinstance(table, dict):
        raise CliError(f"Invalid config file: {target}: [{key.section}] must be a TOML table.")
    return table


def _file_value(cli: CliContext, key: ConfigKey) -> tuple[Any, str | None]:
    target = config_file_path(cli.options, cli.env)
    raw = _read(target)
    container = raw if key.section is None else raw.get(key.section, {})
    value = container.get(key.name) if isinstance(container, Mapping) else None
    if isinstance(value, str) and "api_key" in key.name:
        value = redact_secret(value)
    label = "managed" if key.section == MANAGED_SECTION else "config"
    return value, f"{label}:{key.name}"
