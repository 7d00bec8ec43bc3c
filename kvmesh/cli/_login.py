"""The two ways `tm auth login` gets tokens: the browser flow (start, then poll exchange) or stdin."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from kvmesh.cli._context import CliContext
from kvmesh.cli._errors import CliError, usage_error
from kvmesh.cli._remote import cli_errors


def persist_controlplane_base(cli: CliContext) -> None:
    """Part A: a `--controlplane-base` given to login is written to config.toml (the reference forgets it)."""
    settings = cli.settings
    if settings.sources.get("controlplane_base") != "--controlplane-base":
        return
    from kvmesh.client import load_config_document, save_config_document

    doc = load_config_document(settings.config_path)
    if doc.get("controlplane_base") != settings.controlplane_base:
        doc["controlplane_base"] = settings.controlplane_base
        save_config_document(settings.config_path, doc)


def tokens_from_stdin() -> dict[str, Any]:
    raw = sys.stdin.read().strip() if not sys.stdin.isatty() else ""
    if not raw:
        raise usage_error(
            "No token on stdin. Pipe a token JSON object or a raw access token into `--with-token`."
        )
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise usage_error(f"Invalid token JSON on stdin: {exc}") from None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise usage_error("Invalid token JSON on stdin: missing or invalid 'access_token'.")
        return dict(data)
    if any(ch.isspace() for ch in raw):
        raise usage_error("Invalid token on stdin: expected one access token or a JSON token object.")
    return {"access_token": raw, "token_type": "Bearer"}


def wait_for_tokens(client: Any, cli_code: str, interval: float, max_wait: float) -> dict[str, Any]:
    deadline = time.monotonic() + max_wait
    while True:
        tokens = client.login_exchange(cli_code)
        if tokens is not None:
            return dict(tokens)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CliError(f"Login timed out after {max_wait:g} seconds.")
        time.sleep(min(interval, remaining))


def browser_login(
    cli: CliContext, client: Any, no_browser: bool, max_wait: float, hints: Sequence[str]
) -> dict[str, Any]:
    """Print (and open) the approval URL, then poll until approved, refused, or `max_wait` passes."""
    try:
        with cli_errors(hints=hints):
            start = client.login_start()
            try:
                interval = float(start.get("interval", 2) or 2)
            except (TypeError, ValueError):
                interval = 2.0
            if not cli.quiet or no_browser:
                click.echo(f"Open browser: {start['auth_url']}", err=True)
            if not no_browser:
                import webbrowser

                with contextlib.suppress(Exception):  # no browser must not stop a login
                    webbrowser.open(start["auth_url"])
            return wait_for_tokens(client, start["cli_code"], max(interval, 0.05), max_wait)
    except KeyboardInterrupt:
        raise CliError("Login cancelled.", hints) from None
    except CliError as exc:
        raise CliError(exc.message, hints) from None
