"""The object every command receives: global options, output format and lazily resolved settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import click

from kvmesh.cli._errors import CliError
from kvmesh.client import ConfigError, GlobalOptions, Settings, resolve_settings

OUTPUT_FORMATS = ("text", "json", "yaml", "raw", "table")


@dataclass
class CliContext:
    """Stored as `ctx.obj` by the `tm` group. Settings resolve on first use, so `tm --help` and
    commands that never touch config (`tm version`) work with a broken config.toml."""

    options: GlobalOptions = field(default_factory=GlobalOptions)
    output: str = "text"
    quiet: bool = False
    debug: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _settings: Settings | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.output = self.output.lower()

    @property
    def settings(self) -> Settings:
        """Resolved configuration; a bad config is a `CliError` (exit 1) with the exact message."""
        if self._settings is None:
            try:
                self._settings = resolve_settings(self.options, self.env)
            except ConfigError as exc:
                raise CliError(str(exc)) from exc
        return self._settings

    def reset_settings(self) -> None:
        """Forget the cached settings (after a command rewrote config.toml)."""
        self._settings = None

    def debug_line(self, message: str) -> None:
        """`debug: ...` on stderr when --debug is on and --quiet is off."""
        if self.debug and not self.quiet:
            click.echo(message if message.startswith("debug: ") else f"debug: {message}", err=True)


pass_cli = click.make_pass_decorator(CliContext, ensure=True)
