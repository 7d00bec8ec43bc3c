"""`tm auth`: browser login (or a token on stdin), refresh, whoami, local status, logout, print-token."""

from __future__ import annotations

import json
import sys

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import CliError, usage_error
from kvmesh.cli._login import browser_login, persist_controlplane_base, tokens_from_stdin
from kvmesh.cli._remote import (
    check_timeout,
    cli_errors,
    controlplane_for,
    emit_response,
    no_token_usage_error,
)


@click.group(name="auth")
def auth() -> None:
    """Authenticate to the Tensormesh Control Plane.

    \b
    Examples:
      tm auth login
      tm auth status
      tm auth whoami
    """


@auth.command()
@click.option(
    "--no-open-browser",
    "no_browser",
    is_flag=True,
    help="Do not open the browser automatically (prints URL instead).",
)
@click.option(
    "--max-wait-seconds",
    default=300.0,
    show_default=True,
    type=float,
    help="Maximum total wait time for the browser login flow before failing.",
)
@click.option(
    "--timeout", "timeout", type=float, default=None, help="HTTP timeout in seconds for the login flow."
)
@click.option(
    "--with-token",
    is_flag=True,
    help="Read the token from stdin instead of the browser flow: a token JSON object or a raw access token.",
)
@pass_cli
def login(
    cli: CliContext, no_browser: bool, max_wait_seconds: float, timeout: float | None, with_token: bool
) -> None:
    """Login via browser and store Control Plane tokens.

    \b
    Examples:
      tm auth login
      tm auth login --no-open-browser --max-wait-seconds 60
      tm --controlplane-base http://127.0.0.1:8400 auth login --no-open-browser
      echo "$TOKEN" | tm auth login --with-token
    """
    if not max_wait_seconds > 0:
        raise usage_error("Timeout must be greater than 0 seconds.")
    check_timeout(timeout)
    settings = cli.settings
    token_path = settings.auth_json_path
    hints = [f"Token path: {token_path}"]
    from kvmesh.client import write_token_file

    if with_token:
        tokens = tokens_from_stdin()
    else:
        tokens = browser_login(cli, controlplane_for(cli, timeout), no_browser, max_wait_seconds, hints)
    write_token_file(token_path, tokens)
    persist_controlplane_base(cli)
    if not cli.quiet:
        click.echo(f"Login success. Tokens saved to {token_path}", err=True)


@auth.command()
@click.option(
    "--timeout", "timeout", type=float, default=None, help="HTTP timeout in seconds for the refresh call."
)
@pass_cli
def refresh(cli: CliContext, timeout: float | None) -> None:
    """Refresh stored Control Plane tokens.

    \b
    Example:
      tm auth refresh
    """
    check_timeout(timeout)
    from kvmesh.client import read_token_file, write_token_file

    token_path = cli.settings.auth_json_path
    hints = ["Run: tm auth login", f"Token path: {token_path}"]
    with cli_errors(hints=hints):
        tokens = read_token_file(token_path) or {}
        refresh_token = tokens.get("refresh_token")
        if not refresh_token:
            raise CliError("No refresh token found. Please login first.", hints)
        fresh = controlplane_for(cli, timeout).refresh_tokens(str(refresh_token))
    write_token_file(token_path, fresh)
    if not cli.quiet:
        click.echo("Refresh success. Tokens updated.")


@auth.command()
@click.option(
    "--timeout", "timeout", type=float, default=None, help="HTTP timeout in seconds for the profile call."
)
@pass_cli
def whoami(cli: CliContext, timeout: float | None) -> None:
    """Show the authenticated Control Plane user profile (a live call).

    \b
    Example:
      tm --output json auth whoami
    """
    check_timeout(timeout)
    from kvmesh.cli.readiness.local import inspect_token

    token = inspect_token(cli.settings.auth_json_path)
    if token.error is not None:
        raise CliError(token.error)
    if not token.access_token_present:
        raise no_token_usage_error(note_gateway=True)
    hints = ["Try: tm auth refresh"]
    try:
        client = controlplane_for(cli, timeout)
    except click.UsageError as exc:  # a bad CA bundle, reported like the reference does
        raise CliError(f"Whoami failed.\n{exc.format_message()}", hints) from None
    with cli_errors("Whoami failed.", hints=hints):
        data, response = client.profile()
    emit_response(cli, data, response.text)


@auth.command(name="status")
@click.option(
    "--exit-status",
    is_flag=True,
    help="Exit non-zero when Control Plane or Gateway auth prerequisites are missing.",
)
@pass_cli
def status(cli: CliContext, exit_status: bool) -> None:
    """Show local Control Plane and Gateway auth status (no network).

    \b
    Examples:
      tm auth status
      tm --output json auth status --exit-status
    """
    from kvmesh.cli.readiness import local as r

    settings = cli.settings
    readiness = r.inspect_local(settings)
    token, gateway = readiness.token, readiness.gateway
    warnings = readiness.state_warnings()
    warnings.append("Local status only. Use `tm auth whoami` to live-validate Control Plane auth.")
    data = {
        "ready": readiness.ready_data(),
        "control_plane": r.control_plane_data(settings, token),
        "gateway": r.gateway_data(settings, gateway),
        "sources": dict(settings.sources),
        "warnings": warnings,
    }
    if cli.output == "text":
        lines = [
            r.control_plane_line(
                settings.controlplane_base,
                token.access_token_present,
                token.auth_json_path,
                settings.sources.get("controlplane_auth_json"),
            ),
            r.gateway_line(settings.gateway_provider, settings.gateway_base, gateway),
        ]
        r.echo_screen("tm auth status", lines, warnings=warnings)
    else:
        emit_response(cli, data, json.dumps(data))
    if exit_status and not readiness.overall:
        raise SystemExit(1)


@auth.command(name="logout")
@click.option("--yes", is_flag=True, help="Skip confirmation prompt.")
@pass_cli
def logout(cli: CliContext, yes: bool) -> None:
    """Delete the local Control Plane token file and revoke the session on the server (best effort).

    \b
    Example:
      tm auth logout --yes
    """
    from kvmesh.client import TokenFileError, delete_token_file, read_token_file

    token_path = cli.settings.auth_json_path
    if not token_path.exists():
        if not cli.quiet:
            click.echo(f"Already logged out (no token file): {token_path}")
        return
    if not yes and sys.stdin.isatty() and sys.stdout.isatty():
        click.confirm(f"Delete token file: {token_path}?", default=False, abort=True)
    try:
        tokens = read_token_file(token_path)
    except TokenFileError:
        tokens = None
    if tokens is not None:
        controlplane_for(cli, min(cli.settings.timeout_seconds, 5.0)).revoke(tokens)
    try:
        delete_token_file(token_path)
    except OSError as exc:
        raise CliError(f"Failed to delete token file: {token_path}: {exc}") from None
    if not cli.quiet:
        click.echo(f"Deleted token file: {token_path}")


@auth.command(name="print-token")
@click.option(
    "--yes-i-know", is_flag=True, help="Acknowledge that printing tokens may leak secrets (required)."
)
@pass_cli
def print_token(cli: CliContext, yes_i_know: bool) -> None:
    """Print the Control Plane access token to stdout (for scripting).

    \b
    Example:
      curl -H "Authorization: Bearer $(tm auth print-token --yes-i-know)" "$CP/auth/profile"
    """
    if not yes_i_know:
        raise CliError(
            "Refusing to print access token without explicit acknowledgement.\n"
            "Re-run with: tm auth print-token --yes-i-know"
        )
    from kvmesh.client import NO_TOKEN_MESSAGE, TokenFileError, read_token_file

    try:
        tokens = read_token_file(cli.settings.auth_json_path)
    except TokenFileError as exc:
        raise CliError(str(exc)) from None
    if tokens is None:
        raise CliError(NO_TOKEN_MESSAGE)
    click.echo(tokens["access_token"])
