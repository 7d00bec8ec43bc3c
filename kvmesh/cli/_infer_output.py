"""How inference answers reach the terminal: streamed text as it arrives, or a whole response per --output."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from kvmesh.cli._context import CliContext
from kvmesh.cli._errors import CliError
from kvmesh.cli._infer_target import Target
from kvmesh.cli._remote import cli_errors

EXIT_INTERRUPTED = 130


def print_stream(
    cli: CliContext, target: Target, path: str, body: Any, idle_timeout: float, texts: Callable[[Any], str]
) -> None:
    """Write each event's text as it arrives; stalls, cuts and Ctrl-C end with one clean line."""
    with cli_errors():
        stream = target.client(cli).open_stream(path, body, idle_timeout)
    with output_errors(), contextlib.closing(stream):
        _copy_stream(sys.stdout, stream, texts)


def _copy_stream(out: Any, stream: Any, texts: Callable[[Any], str]) -> None:
    from kvmesh.client import iter_events

    wrote = False
    try:
        with cli_errors():
            for event in iter_events(stream.lines()):
                text = texts(event)
                if text:
                    out.write(text)
                    out.flush()
                    wrote = True
        out.write("\n")
        out.flush()
    except KeyboardInterrupt:
        _finish_line(out)
        click.echo("Interrupted.", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except CliError:
        if wrote:
            _finish_line(out)
        raise


@contextlib.contextmanager
def output_errors() -> Iterator[None]:
    """stdout trouble is one line too: a closed pipe (`| head`) ends quietly, a full disk says so."""
    try:
        yield
    except BrokenPipeError:
        _silence_stdout()
        raise SystemExit(1) from None
    except OSError as exc:
        _silence_stdout()
        raise CliError(f"Failed to write output: {exc}") from None


def _finish_line(out: Any) -> None:
    try:
        out.write("\n")
        out.flush()
    except OSError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def print_response(
    cli: CliContext, text: str, transform: Callable[[Any], Any], extract: Callable[[Any], str | None]
) -> None:
    """Non-stream output: raw verbatim; json/yaml/table structured; text the extracted string or YAML."""
    import json

    from kvmesh.cli._render import emit

    if cli.output == "raw":
        with output_errors():
            click.echo(text)
        return
    try:
        data = transform(json.loads(text))
    except ValueError:
        raise CliError(f"Invalid JSON response: expected JSON. Raw response: {text}") from None
    shown = extract(data) if cli.output == "text" else None
    with output_errors():
        if shown is not None:
            click.echo(shown)
        else:
            emit(cli, data, raw_text=text)
