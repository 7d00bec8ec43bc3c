"""The CLI's error style.

- `CliError` (exit 1): `Error: <message>` on stderr, then an optional `Hints:` list. Used for
  everything that went wrong outside the user's command line: config and token files, HTTP
  failures, network errors, selection failures.
- `usage_error(...)` (exit 2): click's usage format (`Usage: ...`, `Try ... --help`, `Error: ...`)
  for missing or invalid inputs on the command line.
- `file_error(...)` (exit 1): a file the command had to read or write failed (read-only state
  root, disk full, permissions); the `tm` group turns any such OSError into it, so no command
  shows a traceback for one.
"""

from __future__ import annotations

import errno
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


_FILE_HINTS = {
    errno.EROFS: "The state root is on a read-only file system: set TM_CONFIG_HOME to a writable folder.",
    errno.ENOSPC: "The disk is full: free some space and run the command again.",
    errno.EDQUOT: "The disk quota is exhausted: free some space and run the command again.",
    errno.EACCES: "Check the permissions of the file and its folder (or set TM_CONFIG_HOME).",
    errno.EPERM: "Check the permissions of the file and its folder (or set TM_CONFIG_HOME).",
}


def file_error(exc: OSError) -> CliError | None:
    """The `Error:` line for a failed file operation, or None for an OSError that is not about a file."""
    if exc.errno == errno.EPIPE or not exc.filename:
        return None
    message = str(exc) if type(exc).__str__ is not OSError.__str__ else f"{exc.strerror}: {exc.filename}"
    hint = _FILE_HINTS.get(exc.errno or 0)
    return CliError(message, [hint] if hint else [])
