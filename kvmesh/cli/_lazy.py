"""A click group whose subcommands are imported only when invoked, so `tm --help` stays fast."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem


class LazyGroup(click.Group):
    """Subcommands given as `name -> ("module:attr", "short help")`; the module loads on first use.

    A short help of None means "the command's own": `--help` then imports that module to read it.
    """

    def __init__(
        self, *args: Any, lazy_commands: dict[str, tuple[str, str | None]] | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, tuple[str, str | None]] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        target, _ = self.lazy_commands[cmd_name]
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str | None:
        """The table's short help, else the command's own (None for a hidden or missing command)."""
        if name in self.lazy_commands and self.lazy_commands[name][1] is not None:
            return self.lazy_commands[name][1]
        cmd = self.get_command(ctx, name)
        return None if cmd is None or cmd.hidden else cmd.get_short_help_str(limit)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands from the table's short help, without importing their modules."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)
        rows = [(name, text) for name in names if (text := self._short_help(ctx, name, limit)) is not None]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Complete command names from the table, without importing every command module."""
        from click.shell_completion import CompletionItem

        rows = {name: self._short_help(ctx, name, 45) for name in self.list_commands(ctx)}
        results = [
            CompletionItem(name, help=rows[name])
            for name in sorted(rows)
            if name.startswith(incomplete) and rows[name] is not None
        ]
        results.extend(click.Command.shell_complete(self, ctx, incomplete))
        return results
