"""`tm users api-keys list|create|delete`: the caller's API keys in the Control Plane (§7)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, controlplane_for, emit_controlplane_call


@click.group(name="users")
def users() -> None:
    """User profile resources (Control Plane).

    \b
    Example:
      tm users api-keys list
    """


@users.group(name="api-keys")
def api_keys() -> None:
    """User API key management.

    \b
    Examples:
      tm users api-keys list
      tm users api-keys create --name ci-key --yes
    """


def request_body_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--json` and `--file`: the request body, read by `_load_body` (stdin when both are absent)."""
    func = click.option(
        "--file",
        "file_arg",
        type=click.Path(dir_okay=False),
        default=None,
        help="Read JSON request body from file.",
    )(func)
    return click.option(
        "--json", "json_arg", default=None, help="JSON request body or @file.json (overrides flags)."
    )(func)


def _load_body(json_arg: str | None, file_arg: str | None) -> dict[str, Any] | None:
    from kvmesh.client import ChatInputError, load_request_json

    try:
        body = load_request_json(json_arg, file_arg, sys.stdin, required=False)
    except ChatInputError as exc:
        raise usage_error(str(exc)) from None
    if body is not None and not isinstance(body, dict):
        raise usage_error("Request body must be a JSON object.")
    return body


def _own_user_id(cli: CliContext, timeout: float | None) -> str:
    from kvmesh.cli._infer_target import derive_user_id

    return derive_user_id(
        controlplane_for(cli, timeout if timeout is not None else cli.settings.timeout_seconds)
    )


@api_keys.command(name="list")
@click.option("--user-id", default=None, help="Optional user id to scope authorization.")
@click.option("--include-deleted", is_flag=True, help="Include deleted keys.")
@TIMEOUT_OPTION
@pass_cli
def list_keys(cli: CliContext, user_id: str | None, include_deleted: bool, timeout: float | None) -> None:
    """List user API keys (GET /v1/users/api-keys).

    \b
    Example:
      tm --output table users api-keys list
    """
    check_timeout(timeout)
    params = {"userId": user_id, "includeDeleted": True if include_deleted else None}
    emit_controlplane_call(cli, "GET", "/v1/users/api-keys", "apiKeys", timeout, params=params)


@api_keys.command(name="create")
@click.option(
    "--user-id", default=None, help="User id for the new API key (default: your own, from the profile)."
)
@click.option("--name", default=None, help="Optional display name.")
@click.option("--scope", "scopes", multiple=True, help="Optional scope. Repeat for multiple scopes.")
@click.option("--expires-at", default=None, help="Optional expiration timestamp (RFC3339).")
@click.option("--yes", is_flag=True, help="Skip confirmation prompt.")
@request_body_options
@TIMEOUT_OPTION
@pass_cli
def create_key(
    cli: CliContext,
    user_id: str | None,
    name: str | None,
    scopes: tuple[str, ...],
    expires_at: str | None,
    yes: bool,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Create a user API key (POST /v1/users/api-keys). The response shows the key once.

    \b
    Example:
      tm users api-keys create --name ci-key --yes
    """
    check_timeout(timeout)
    body = _load_body(json_arg, file_arg)
    if body is None:
        body = {
            "userId": (user_id or "").strip(),
            "name": name,
            "scopes": list(scopes) or None,
            "expiresAt": expires_at,
        }
        body = {key: value for key, value in body.items() if value not in (None, "")}
    if not str(body.get("userId") or "").strip():
        body["userId"] = _own_user_id(cli, timeout)
    if not yes:
        click.confirm("Create a user API key?", default=False, abort=True)
    emit_controlplane_call(cli, "POST", "/v1/users/api-keys", "apiKey", timeout, json_body=body)


@api_keys.command(name="delete")
@click.option("--api-key", default=None, help="API key to delete.")
@click.option("--user-id", default=None, help="Optional user id for the key owner.")
@click.option("--yes", is_flag=True, help="Skip confirmation prompt.")
@request_body_options
@TIMEOUT_OPTION
@pass_cli
def delete_key(
    cli: CliContext,
    api_key: str | None,
    user_id: str | None,
    yes: bool,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Delete a user API key (DELETE /v1/users/api-keys).

    \b
    Example:
      tm users api-keys delete --api-key tmk_... --yes
    """
    check_timeout(timeout)
    body = _load_body(json_arg, file_arg) or {"apiKey": api_key, "userId": user_id}
    key = str(body.get("apiKey") or "").strip()
    if not key:
        raise usage_error("Missing API key. Provide --api-key or pass JSON via --json/--file/stdin.")
    if not yes:
        from kvmesh.client import redact_secret

        click.confirm(f"Delete user API key {redact_secret(key)!r}?", default=False, abort=True)
    params = {
        "apiKey": key,
        "userId": (str(body.get("userId")).strip() or None) if body.get("userId") else None,
    }
    emit_controlplane_call(cli, "DELETE", "/v1/users/api-keys", None, timeout, params=params)


from kvmesh.cli import users_profile as _users_profile  # noqa: E402,F401  (registers update, accept-tos)
