"""`tm admin billing ...` (balances, prices, spending) and `tm admin tickets|reserved-deployments`."""

from __future__ import annotations

from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import YES_OPTION, body_options, body_or_flags, confirm, load_body, require_text
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call
from kvmesh.cli.admin import _segment, admin

METHOD_OPTION = click.option(
    "--method",
    type=click.Choice(["POST", "PUT"], case_sensitive=False),
    default="POST",
    show_default=True,
    help="HTTP method to use for upsert.",
)
TARGETS_MISSING = (
    "Missing target user ids. Provide --target-user-id (repeatable) or JSON via --json/--file/stdin."
)


@admin.group(name="billing")
def billing() -> None:
    """Balances, prices and spending of every user."""


@billing.group(name="balances")
def balances() -> None:
    """User balances."""


def _targets_body(
    json_arg: str | None, file_arg: str | None, user_id: str | None, targets: tuple[str, ...]
) -> dict[str, Any]:
    body = body_or_flags(json_arg, file_arg, {"userId": user_id, "targetUserIds": list(targets)})
    if not isinstance(body.get("targetUserIds"), list) or not body["targetUserIds"]:
        raise usage_error(TARGETS_MISSING)
    return body


@balances.command(name="get")
@click.option("--user-id", default=None, help="Optional acting admin user id.")
@click.option("--target-user-id", "target_user_ids", multiple=True, help="User to look up (repeatable).")
@body_options()
@TIMEOUT_OPTION
@pass_cli
def get_balances(
    cli: CliContext,
    user_id: str | None,
    target_user_ids: tuple[str, ...],
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Get balances of users (POST /v1/admin/billing/balances)."""
    check_timeout(timeout)
    body = _targets_body(json_arg, file_arg, user_id, target_user_ids)
    emit_controlplane_call(cli, "POST", "/v1/admin/billing/balances", "balances", timeout, json_body=body)


@balances.command(name="add")
@click.option("--user-id", default=None, help="Optional acting admin user id.")
@click.option("--target-user-id", default=None, help="User to credit.")
@click.option("--amount", type=float, default=None, help="Amount in USD (negative to debit).")
@YES_OPTION
@body_options()
@TIMEOUT_OPTION
@pass_cli
def add_balance(
    cli: CliContext,
    user_id: str | None,
    target_user_id: str | None,
    amount: float | None,
    yes: bool,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Add credit to a user's balance (POST /v1/admin/billing/balances:add).

    \b
    Example:
      tm admin billing balances add --target-user-id USER_ID --amount 25 --yes
    """
    check_timeout(timeout)
    body = body_or_flags(
        json_arg, file_arg, {"userId": user_id, "targetUserId": target_user_id, "amount": amount}
    )
    if not body.get("targetUserId") or body.get("amount") is None:
        raise usage_error(
            "Missing required fields. Provide --target-user-id and --amount "
            "(or pass JSON via --json/--file/stdin)."
        )
    confirm(yes, f"Add {body['amount']} USD to {body['targetUserId']}?")
    emit_controlplane_call(cli, "POST", "/v1/admin/billing/balances:add", "balance", timeout, json_body=body)


@billing.group(name="spending")
def spending() -> None:
    """Spending of users."""


@spending.command(name="summary")
@click.option("--user-id", default=None, help="Optional acting admin user id.")
@click.option("--target-user-id", "target_user_ids", multiple=True, help="User to summarise (repeatable).")
@body_options()
@TIMEOUT_OPTION
@pass_cli
def spending_summary(
    cli: CliContext,
    user_id: str | None,
    target_user_ids: tuple[str, ...],
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Spending over 24 h / 7 d / 30 d per user (POST /v1/admin/billing/spending/summary)."""
    check_timeout(timeout)
    body = _targets_body(json_arg, file_arg, user_id, target_user_ids)
    emit_controlplane_call(
        cli, "POST", "/v1/admin/billing/spending/summary", "summaries", timeout, json_body=body
    )


@billing.group(name="pricing")
def pricing() -> None:
    """GPU prices (and serverless prices under `serverless`)."""


def _pricing_body(json_arg: str | None, file_arg: str | None) -> dict[str, Any]:
    body = load_body(json_arg, file_arg)
    if body is None or not isinstance(body.get("pricing"), dict):
        raise usage_error("Pricing request must be a JSON object with a `pricing` object.")
    return body


@pricing.command(name="upsert")
@METHOD_OPTION
@YES_OPTION
@body_options()
@TIMEOUT_OPTION
@pass_cli
def upsert_gpu_pricing(
    cli: CliContext, method: str, yes: bool, json_arg: str | None, file_arg: str | None, timeout: float | None
) -> None:
    """Create or update a GPU price (POST|PUT /v1/admin/billing/gpu-pricing)."""
    check_timeout(timeout)
    body = _pricing_body(json_arg, file_arg)
    confirm(yes, "Upsert GPU pricing?")
    emit_controlplane_call(
        cli, method.upper(), "/v1/admin/billing/gpu-pricing", "pricing", timeout, json_body=body
    )


@pricing.command(name="delete")
@click.option("--gpu-type", required=True, help="GPU type (e.g. GPU_TYPE_H100).")
@click.option("--cloud-provider", required=True, help="Cloud provider (e.g. CLOUD_PROVIDER_ONPREM).")
@YES_OPTION
@TIMEOUT_OPTION
@pass_cli
def delete_gpu_pricing(
    cli: CliContext, gpu_type: str, cloud_provider: str, yes: bool, timeout: float | None
) -> None:
    """Delete a GPU price (DELETE /v1/admin/billing/gpu-pricing/{gpuType}/{cloudProvider})."""
    check_timeout(timeout)
    gpu, provider = _segment(gpu_type, "--gpu-type"), _segment(cloud_provider, "--cloud-provider")
    path = f"/v1/admin/billing/gpu-pricing/{gpu}/{provider}"
    confirm(yes, f"Delete GPU pricing {gpu_type}/{cloud_provider}?")
    emit_controlplane_call(cli, "DELETE", path, "empty", timeout)


@pricing.group(name="serverless")
def serverless() -> None:
    """Serverless per-token prices."""


@serverless.command(name="list")
@click.option("--model", default=None, help="Only this model.")
@click.option("--active-only", is_flag=True, help="Only active entries.")
@TIMEOUT_OPTION
@pass_cli
def list_serverless(cli: CliContext, model: str | None, active_only: bool, timeout: float | None) -> None:
    """List serverless prices, active or not (GET /v1/admin/billing/serverless-pricing)."""
    check_timeout(timeout)
    params = {"model": model, "activeOnly": True if active_only else None}
    emit_controlplane_call(
        cli, "GET", "/v1/admin/billing/serverless-pricing", "pricing", timeout, params=params
    )


@serverless.command(name="upsert")
@METHOD_OPTION
@YES_OPTION
@body_options()
@TIMEOUT_OPTION
@pass_cli
def upsert_serverless(
    cli: CliContext, method: str, yes: bool, json_arg: str | None, file_arg: str | None, timeout: float | None
) -> None:
    """Create or update a serverless price (POST|PUT /v1/admin/billing/serverless-pricing)."""
    check_timeout(timeout)
    body = _pricing_body(json_arg, file_arg)
    confirm(yes, "Upsert serverless pricing?")
    path = "/v1/admin/billing/serverless-pricing"
    emit_controlplane_call(cli, method.upper(), path, "pricing", timeout, json_body=body)


@serverless.command(name="delete")
@click.option("--id", "pricing_id", required=True, help="Serverless pricing id.")
@YES_OPTION
@TIMEOUT_OPTION
@pass_cli
def delete_serverless(cli: CliContext, pricing_id: str, yes: bool, timeout: float | None) -> None:
    """Delete a serverless price (DELETE /v1/admin/billing/serverless-pricing?id=...)."""
    check_timeout(timeout)
    entry = require_text(pricing_id, "--id")
    confirm(yes, f"Delete serverless pricing {entry!r}?")
    path = "/v1/admin/billing/serverless-pricing"
    emit_controlplane_call(cli, "DELETE", path, "empty", timeout, params={"id": entry})


@admin.group(name="tickets")
def tickets() -> None:
    """Every user's support tickets: list, answer (`tm tickets message`) and close (`tm tickets close`)."""


@tickets.command(name="list")
@click.option(
    "--status", default=None, help="TICKET_STATUS_OPEN | TICKET_STATUS_ANSWERED | TICKET_STATUS_CLOSED."
)
@click.option("--page", type=int, default=None, help="Page number (from 1).")
@click.option("--size", type=int, default=None, help="Page size.")
@TIMEOUT_OPTION
@pass_cli
def list_all_tickets(
    cli: CliContext, status: str | None, page: int | None, size: int | None, timeout: float | None
) -> None:
    """List every user's tickets (GET /v1/admin/support/tickets); kvmesh only."""
    check_timeout(timeout)
    params = {"status": status, "page": page, "size": size}
    emit_controlplane_call(cli, "GET", "/v1/admin/support/tickets", "tickets", timeout, params=params)


@admin.group(name="reserved-deployments")
def reserved() -> None:
    """Reserved deployment requests users submitted (kvmesh only)."""


@reserved.command(name="list")
@click.option("--page", type=int, default=None, help="Page number (from 1).")
@click.option("--size", type=int, default=None, help="Page size.")
@TIMEOUT_OPTION
@pass_cli
def list_reserved(cli: CliContext, page: int | None, size: int | None, timeout: float | None) -> None:
    """List reserved deployment requests (GET /v1/admin/support/reserved-deployments)."""
    check_timeout(timeout)
    params = {"page": page, "size": size}
    emit_controlplane_call(
        cli, "GET", "/v1/admin/support/reserved-deployments", "requests", timeout, params=params
    )


@reserved.command(name="answer")
@click.argument("request_id")
@click.option("--answer", required=True, help="Your answer to the requester.")
@click.option("--keep-open", is_flag=True, help="Answer without closing the request.")
@TIMEOUT_OPTION
@pass_cli
def answer_reserved(
    cli: CliContext, request_id: str, answer: str, keep_open: bool, timeout: float | None
) -> None:
    """Answer (and close) a reserved deployment request."""
    check_timeout(timeout)
    path = f"/v1/admin/support/reserved-deployments/{_segment(request_id, 'REQUEST_ID')}:answer"
    body = {"answer": answer, "close": not keep_open}
    emit_controlplane_call(cli, "POST", path, "request", timeout, json_body=body)
