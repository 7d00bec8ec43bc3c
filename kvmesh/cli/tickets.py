"""`tm tickets create|list|get|message|close`: support tickets, answered by the server's operator."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import (
    YES_OPTION,
    body_options,
    body_or_flags,
    confirm,
    require_strings,
    require_text,
)
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call


@click.group(name="tickets")
def tickets() -> None:
    """Support tickets (Control Plane). On a self-hosted server the operator answers them.

    \b
    Examples:
      tm tickets create --subject "Quota" --message "Please raise my replica limit."
      tm tickets list --status TICKET_STATUS_OPEN
    """


def _path(ticket_id: str, suffix: str = "") -> str:
    from kvmesh.client import path_segment

    return f"/v1/support/tickets/{path_segment(require_text(ticket_id, 'TICKET_ID'))}{suffix}"


@tickets.command(name="create")
@click.option("--subject", default=None, help="Ticket subject.")
@click.option("--type", "ticket_type", default=None, help="Ticket type (e.g. TICKET_TYPE_GENERAL).")
@click.option("--message", default=None, help="First message.")
@click.option("--user-id", default=None, help="Optional user id.")
@body_options("JSON request body or @file.json (overrides flags).")
@TIMEOUT_OPTION
@pass_cli
def create_ticket(
    cli: CliContext,
    subject: str | None,
    ticket_type: str | None,
    message: str | None,
    user_id: str | None,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Create a ticket (POST /v1/support/tickets).

    \b
    Example:
      tm tickets create --subject "Billing" --message "Question about my invoice."
    """
    check_timeout(timeout)
    flags = {"subject": subject, "message": message, "userId": user_id, "type": ticket_type}
    body = body_or_flags(json_arg, file_arg, flags)
    require_strings(
        body, ("subject", "message"), "Missing subject or message. Provide --subject and --message or JSON."
    )
    emit_controlplane_call(cli, "POST", "/v1/support/tickets", "ticket", timeout, json_body=body)


@tickets.command(name="list")
@click.option("--user-id", default=None, help="Optional user id to scope results.")
@click.option("--status", default=None, help="Filter by status (TICKET_STATUS_OPEN|ANSWERED|CLOSED).")
@click.option("--page", type=int, default=None, help="Page number (from 1).")
@click.option("--size", type=int, default=None, help="Page size.")
@TIMEOUT_OPTION
@pass_cli
def list_tickets(
    cli: CliContext,
    user_id: str | None,
    status: str | None,
    page: int | None,
    size: int | None,
    timeout: float | None,
) -> None:
    """List tickets (GET /v1/support/tickets).

    \b
    Example:
      tm tickets list
    """
    check_timeout(timeout)
    params = {"userId": user_id, "status": status, "page": page, "size": size}
    emit_controlplane_call(cli, "GET", "/v1/support/tickets", None, timeout, params=params)


@tickets.command(name="get")
@click.argument("ticket_id")
@TIMEOUT_OPTION
@pass_cli
def get_ticket(cli: CliContext, ticket_id: str, timeout: float | None) -> None:
    """Get a ticket with its conversation (GET /v1/support/tickets/{ticketId}).

    \b
    Example:
      tm tickets get TICKET_ID
    """
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", _path(ticket_id), "ticket", timeout)


@tickets.command(name="message")
@click.argument("ticket_id")
@click.option("--message", default=None, help="Message text.")
@click.option("--user-id", default=None, help="Optional user id.")
@body_options("JSON request body or @file.json (overrides --message).")
@TIMEOUT_OPTION
@pass_cli
def message_ticket(
    cli: CliContext,
    ticket_id: str,
    message: str | None,
    user_id: str | None,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Add a message to a ticket (POST /v1/support/tickets/{ticketId}/messages).

    \b
    Example:
      tm tickets message TICKET_ID --message "Any update?"
    """
    check_timeout(timeout)
    path = _path(ticket_id, "/messages")
    body = body_or_flags(json_arg, file_arg, {"message": message, "userId": user_id})
    if not body.get("message"):
        require_strings(
            body, ("message",), "Missing message. Provide --message or JSON via --json/--file/stdin."
        )
    emit_controlplane_call(cli, "POST", path, "ticket", timeout, json_body=body)


@tickets.command(name="close")
@click.argument("ticket_id")
@YES_OPTION
@TIMEOUT_OPTION
@pass_cli
def close_ticket(cli: CliContext, ticket_id: str, yes: bool, timeout: float | None) -> None:
    """Close a ticket (DELETE /v1/support/tickets/{ticketId}).

    \b
    Example:
      tm tickets close TICKET_ID --yes
    """
    check_timeout(timeout)
    path = _path(ticket_id)
    confirm(yes, f"Close ticket {ticket_id.strip()!r}?")
    emit_controlplane_call(cli, "DELETE", path, "ticket", timeout)
