"""`tm users update|accept-tos`: profile fields and the operator's terms of service (§7)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import body_options, body_or_flags, require_text
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call
from kvmesh.cli.users import users


@users.command(name="update")
@click.argument("user_id")
@click.option("--first-name", default=None, help="First name.")
@click.option("--last-name", default=None, help="Last name.")
@click.option("--display-name", default=None, help="Display name.")
@click.option("--company", default=None, help="Company.")
@body_options("JSON request body or @file.json (overrides flags).")
@TIMEOUT_OPTION
@pass_cli
def update_user(
    cli: CliContext,
    user_id: str,
    first_name: str | None,
    last_name: str | None,
    display_name: str | None,
    company: str | None,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Update profile fields (PUT /v1/users/{userId}); fields left out keep their value.

    \b
    Example:
      tm users update USER_ID --display-name "Ada L."
    """
    from kvmesh.client import path_segment

    check_timeout(timeout)
    path = f"/v1/users/{path_segment(require_text(user_id, 'USER_ID'))}"
    flags = {"firstName": first_name, "lastName": last_name, "displayName": display_name, "company": company}
    body = body_or_flags(json_arg, file_arg, flags)
    if not body:
        raise usage_error(
            "Nothing to update. Provide --first-name/--last-name/--display-name/--company or JSON."
        )
    emit_controlplane_call(cli, "PUT", path, None, timeout, json_body=body)


@users.command(name="accept-tos")
@TIMEOUT_OPTION
@pass_cli
def accept_tos(cli: CliContext, timeout: float | None) -> None:
    """Accept the server's terms of service (POST /v1/users/accept-tos).

    \b
    Example:
      tm users accept-tos
    """
    check_timeout(timeout)
    emit_controlplane_call(cli, "POST", "/v1/users/accept-tos", "user", timeout, json_body={})
