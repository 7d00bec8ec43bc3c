"""The CLI's error style.

- `CliError` (exit 1): `Error: <message>` on stderr, then an optional `Hints:` list. Used for
  everything that went wrong outside the user's command line: config and token files, HTTP
  failures, network errors, selection failures.
- `usage_error(...)` (exit 2): click's usage format (`Usage: ...`, `Try ... --help`, `Error: ...`)
  for missing or invalid inputs on the command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

import click


class CliError(click.ClickException):
    """A user-facing failure with exit status 1 and optional fix hints."""

    exit_code = 1

    def __init__(self, message: str, hints: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.hints: list[str] = list(hints)

    def format_message(self) -> str:
        if not self.hints:
            return self.message
        return self.message + "\n\nHints:\n" + "\n".join(f"- {hint}" for hint in self.hints)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=file is None)


def usage_error(message: str, ctx: click.Context | None = None) -> click.UsageError:
    """An exit-2 error printed with the command's usage line; raise the returned exception."""
    return click.UsageError(message, ctx=ctx)
