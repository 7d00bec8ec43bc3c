"""`tm billing`: pricing (serverless and GPU), balance, usage, transactions and spending (raw CP bodies)."""

from __future__ import annotations

from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call


def show(
    cli: CliContext, path: str, wrapper: str | None, params: dict[str, Any], timeout: float | None
) -> None:
    """GET a Control Plane resource and print the server's body with the global `--output`."""
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", path, wrapper, timeout, params=params)


@click.group(name="billing")
def billing() -> None:
    """Billing and usage (Control Plane).

    \b
    Examples:
      tm billing balance
      tm billing pricing serverless list
    """


@billing.group(name="pricing")
def pricing() -> None:
    """Pricing info (Control Plane)."""


@pricing.group(name="serverless")
def serverless() -> None:
    """Serverless per-token pricing."""


@serverless.command(name="list")
@click.option("--model", default=None, help="Filter by model name.")
@click.option("--active-only", is_flag=True, help="Return active pricing only.")
@TIMEOUT_OPTION
@pass_cli
def serverless_list(cli: CliContext, model: str | None, active_only: bool, timeout: float | None) -> None:
    """List serverless pricing (GET /v1/billing/serverless-pricing).

    \b
    Examples:
      tm billing pricing serverless list
      tm --output json billing pricing serverless list --active-only
      tm billing pricing serverless list --model HuggingFaceTB/SmolLM2-135M-Instruct
    """
    params = {"model": model, "activeOnly": True if active_only else None}
    show(cli, "/v1/billing/serverless-pricing", "pricing", params, timeout)


@pricing.command(name="list")
@click.option("--cloud-provider", default=None, help="Filter by cloud provider.")
@click.option("--gpu-type", default=None, help="Filter by GPU type.")
@click.option("--active-only", is_flag=True, help="Return active pricing only.")
@TIMEOUT_OPTION
@pass_cli
def gpu_list(
    cli: CliContext,
    cloud_provider: str | None,
    gpu_type: str | None,
    active_only: bool,
    timeout: float | None,
) -> None:
    """List GPU pricing (GET /v1/billing/gpu-pricing).

    \b
    Example:
      tm billing pricing list --active-only
    """
    params = {
        "cloudProvider": cloud_provider,
        "gpuType": gpu_type,
        "activeOnly": True if active_only else None,
    }
    show(cli, "/v1/billing/gpu-pricing", "pricing", params, timeout)


@billing.command(name="balance")
@click.option("--user-id", default=None, help="Optional user id.")
@TIMEOUT_OPTION
@pass_cli
def balance(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """Get current balance (GET /v1/billing/balance).

    \b
    Example:
      tm billing balance
    """
    show(cli, "/v1/billing/balance", "balance", {"userId": user_id}, timeout)


@billing.command(name="usage")
@click.option("--user-id", default=None, help="Optional user id.")
@click.option("--model", default=None, help="Filter by model name.")
@click.option("--page-size", type=int, default=None, help="Records per page.")
@click.option("--page-token", default=None, help="Page token from a previous response.")
@TIMEOUT_OPTION
@pass_cli
def usage(
    cli: CliContext,
    user_id: str | None,
    model: str | None,
    page_size: int | None,
    page_token: str | None,
    timeout: float | None,
) -> None:
    """List metered usage records (GET /v1/billing/usage; kvmesh addition).

    \b
    Example:
      tm --output table billing usage --page-size 20
    """
    params = {"userId": user_id, "model": model, "pageSize": page_size, "pageToken": page_token}
    show(cli, "/v1/billing/usage", None, params, timeout)


@billing.group(name="transactions")
def transactions() -> None:
    """Billing transactions."""


@transactions.command(name="list")
@click.option("--user-id", default=None, help="Optional user id.")
@click.option("--page-size", type=int, default=None, help="Records per page.")
@click.option("--page-token", default=None, help="Page token from a previous response.")
@TIMEOUT_OPTION
@pass_cli
def transactions_list(
    cli: CliContext, user_id: str | None, page_size: int | None, page_token: str | None, timeout: float | None
) -> None:
    """List transactions (GET /v1/billing/transactions).

    \b
    Example:
      tm billing transactions list --page-size 10
    """
    params = {"userId": user_id, "pageSize": page_size, "pageToken": page_token}
    show(cli, "/v1/billing/transactions", "transactions", params, timeout)


@billing.group(name="spending")
def spending() -> None:
    """Spending summaries."""


@spending.command(name="summary")
@click.option("--user-id", default=None, help="Optional user id.")
@TIMEOUT_OPTION
@pass_cli
def spending_summary(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """Spend over the last 24 h, 7 d and 30 d (GET /v1/billing/spending/summary).

    \b
    Example:
      tm billing spending summary
    """
    show(cli, "/v1/billing/spending/summary", None, {"userId": user_id}, timeout)


@spending.command(name="history")
@click.option("--user-id", default=None, help="Optional user id.")
@TIMEOUT_OPTION
@pass_cli
def spending_history(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """Spend per time bucket (GET /v1/billing/spending/history).

    \b
    Example:
      tm --output json billing spending history
    """
    show(cli, "/v1/billing/spending/history", "buckets", {"userId": user_id}, timeout)


from kvmesh.cli import billing_cards as _billing_cards  # noqa: E402,F401  (registers address, stripe)
