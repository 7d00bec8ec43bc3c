"""Progress lines for long local-stack steps: a rich spinner on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Progress:
    def __init__(self, interactive: bool | None = None, quiet: bool = False) -> None:
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.quiet = quiet
        self._status: Any = None
        self._last_update = ""

    def say(self, message: str) -> None:
        """A finished step or a fact (always a line of its own)."""
        if self.quiet:
            return
        if self._status is not None:
            self._status.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=sys.stderr, flush=True)

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        """A step that takes a while: a spinner on a terminal, a `... ` line otherwise."""
        if self.quiet:
            yield
            return
        if not self.interactive:
            print(f"... {message}", file=sys.stderr, flush=True)
            yield
            return
        from rich.console import Console

        console = Console(stderr=True)
        with console.status(message) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def update(self, message: str) -> None:
        """Change the text of the running step (plain mode prints it as a line)."""
        if self.quiet:
            return
        if self._status is not None:
            self._status.update(message)
        elif message != self._last_update:
            print(f"    {message}", file=sys.stderr, flush=True)
        self._last_update = message
