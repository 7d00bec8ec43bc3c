"""Builds the HTTP clients a command needs from the CLI context, and turns their errors into CLI errors."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from kvmesh.cli._context import CliContext
from kvmesh.cli._errors import CliError, usage_error

if TYPE_CHECKING:
    from kvmesh.client import ControlPlaneClient, Transport

TIMEOUT_OPTION = click.option("--timeout", type=float, default=None, help="HTTP timeout in seconds.")
"""`--timeout` of the Control Plane commands; `check_timeout` validates it."""
CA_HINT = "Hint: set --ca-bundle or TENSORMESH_CA_BUNDLE to a readable PEM file."


def check_timeout(value: float | None) -> None:
    if value is not None and not value > 0:
        raise usage_error("Timeout must be greater than 0 seconds.")


def transport_for(cli: CliContext) -> Transport:
    """A transport with the resolved CA bundle, timeout, retries and `--debug` sink."""
    from kvmesh.client import Transport

    settings = cli.settings
    verify: bool | str = True
    if settings.ca_bundle:
        if not os.path.exists(settings.ca_bundle):
            raise usage_error(f"CA bundle path does not exist: {settings.ca_bundle}\n{CA_HINT}")
        if not os.path.isfile(settings.ca_bundle):
            raise usage_error(f"CA bundle path is not a file: {settings.ca_bundle}\n{CA_HINT}")
        verify = settings.ca_bundle
    return Transport(
        verify=verify,
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
        debug=cli.debug_line if cli.debug and not cli.quiet else None,
    )


def controlplane_for(cli: CliContext, timeout: float | None = None) -> ControlPlaneClient:
    from kvmesh.client import ControlPlaneClient

    settings = cli.settings
    return ControlPlaneClient(
        settings.controlplane_base, transport_for(cli), settings.auth_json_path, timeout=timeout
    )


@contextmanager
def cli_errors(prefix: str | None = None, hints: Sequence[str] = ()) -> Iterator[None]:
    """Map client exceptions to `Error:` lines (exit 1) or usage errors (exit 2); `prefix` leads."""
    from kvmesh.client import (
        LoginError,
        MalformedResponseError,
        MissingTokenError,
        StreamEventError,
        TokenFileError,
        TransportError,
    )

    try:
        yield
    except MissingTokenError as exc:
        raise usage_error(str(exc)) from None
    except (TransportError, MalformedResponseError, TokenFileError, LoginError, StreamEventError) as exc:
        message = f"{prefix}\n{exc}" if prefix else str(exc)
        raise CliError(message, hints) from None


def emit_response(cli: CliContext, data: object, raw_text: str) -> None:
    """Print a server body with the global `--output` (raw prints the body verbatim)."""
    from kvmesh.cli._render import emit

    emit(cli, data, raw_text=raw_text)


def emit_controlplane_call(
    cli: CliContext, method: str, path: str, wrapper: str | None, timeout: float | None, **request: Any
) -> None:
    """Make one Control Plane call (`params=` or `json_body=`) and print its body with `--output`."""
    with cli_errors():
        data, response = controlplane_for(cli, timeout).call_json(method, path, wrapper, **request)
    emit_response(cli, data, response.text)


def no_token_usage_error(note_gateway: bool = False) -> click.UsageError:
    from kvmesh.client import NO_TOKEN_MESSAGE

    message = NO_TOKEN_MESSAGE
    if note_gateway:
        message += "\nNote: gateway API keys do not authenticate the control plane."
    return usage_error(message)
