"""`tm cost`: spend and cache savings per model over a window (GET /v1/billing/cost)."""

from __future__ import annotations

import re

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@click.command(name="cost")
@click.option(
    "--window",
    type=click.Choice(["24h", "7d", "30d"]),
    default=None,
    help="A window ending now (default 30d when neither --month nor --start is given).",
)
@click.option("--month", default=None, metavar="YYYY-MM", help="A UTC calendar month instead of a window.")
@click.option("--start", default=None, help="Window start (RFC 3339 or YYYY-MM-DD, UTC), inclusive.")
@click.option("--end", default=None, help="Window end (RFC 3339 or YYYY-MM-DD, UTC), exclusive; default now.")
@click.option("--user-id", default=None, help="Optional user id (admins: another user's).")
@TIMEOUT_OPTION
@pass_cli
def cost(
    cli: CliContext,
    window: str | None,
    month: str | None,
    start: str | None,
    end: str | None,
    user_id: str | None,
    timeout: float | None,
) -> None:
    """Spend and cache savings per model (GET /v1/billing/cost).

    Savings are what cached prompt tokens saved at the model's serverless list price
    (cached tokens x (input − cached price)).

    \b
    Examples:
      tm cost
      tm cost --window 24h
      tm cost --month 2026-11 --output json
      tm cost --start 2026-11-01 --end 2026-11-15 --output table
    """
    check_timeout(timeout)
    chosen = [name for name, value in (("--window", window), ("--month", month)) if value]
    if start or end:
        chosen.append("--start/--end")
    if len(chosen) > 1:
        raise usage_error(f"Use only one of --window, --month or --start/--end (got {', '.join(chosen)}).")
    if end and not start:
        raise usage_error("--end needs --start.")
    if month and not MONTH.fullmatch(month):
        raise usage_error(f"--month must be YYYY-MM, got {month!r}.")
    params = {"window": window, "month": month, "start": start, "end": end, "userId": user_id}
    emit_controlplane_call(cli, "GET", "/v1/billing/cost", "models", timeout, params=params)
