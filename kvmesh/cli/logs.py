"""`tm logs DEPLOYMENT_ID [-f]`: a deployment's replica log lines and lifecycle events (§7)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import (
    TIMEOUT_OPTION,
    check_timeout,
    cli_errors,
    controlplane_for,
    emit_response,
)

DIRECTIONS = ["asc", "desc", "LOG_DIRECTION_UNSPECIFIED", "LOG_DIRECTION_FORWARD", "LOG_DIRECTION_BACKWARD"]
ALIASES = {"asc": "LOG_DIRECTION_FORWARD", "desc": "LOG_DIRECTION_BACKWARD"}


def _line(item: Any) -> str:
    if isinstance(item, dict):
        stamp = item.get("timestamp")
        message = item.get("message")
        text = message.rstrip() if isinstance(message, str) else ""
        if isinstance(stamp, str) and stamp.strip() and text:
            return f"{stamp.strip()} {text}"
        return text
    return item.rstrip() if isinstance(item, str) else str(item)


@click.command(name="logs")
@click.argument("deployment_id")
@click.option("-f", "--follow", is_flag=True, help="Follow logs (polls periodically).")
@click.option(
    "--interval",
    "interval_s",
    type=float,
    default=2.0,
    show_default=True,
    help="Polling interval in seconds when following.",
)
@click.option("--user-id", default=None, help="Optional user id to scope results.")
@click.option("--start-time", default=None, help="Start time (RFC3339 or Unix seconds).")
@click.option("--end-time", default=None, help="End time (RFC3339 or Unix seconds).")
@click.option("--limit", type=int, default=None, help="Max number of log lines/events.")
@click.option(
    "--direction",
    type=click.Choice(DIRECTIONS, case_sensitive=False),
    default=None,
    help="Sort direction: asc/desc or LOG_DIRECTION_* values.",
)
@TIMEOUT_OPTION
@pass_cli
def logs(
    cli: CliContext,
    deployment_id: str,
    follow: bool,
    interval_s: float,
    user_id: str | None,
    start_time: str | None,
    end_time: str | None,
    limit: int | None,
    direction: str | None,
    timeout: float | None,
) -> None:
    """Fetch deployment logs (GET /v1/observability/deployments/{deploymentId}/logs).

    `-f` polls every --interval seconds and prints lines not seen before, until Ctrl-C.

    \b
    Examples:
      tm logs DEPLOYMENT_ID --limit 50
      tm logs DEPLOYMENT_ID -f
    """
    check_timeout(timeout)
    if not deployment_id.strip():
        raise usage_error("DEPLOYMENT_ID is required.")
    if follow and (not math.isfinite(interval_s) or interval_s <= 0):
        raise usage_error("`--interval` must be a finite number greater than 0.")
    if follow:
        limit = 200 if limit is None else limit
        direction = direction or "asc"
    wanted = ALIASES.get(direction.lower(), direction.upper()) if direction else None
    query: dict[str, Any] = {"user_id": user_id, "start_time": start_time, "end_time": end_time}
    query.update(limit=limit, direction=wanted)
    client = controlplane_for(cli, timeout)
    if not follow:
        with cli_errors():
            data, response = client.deployment_logs(deployment_id, **query)
        emit_response(cli, data, response.text)
        return
    seen: set[str] = set()
    try:
        while True:
            with cli_errors():
                data, _ = client.deployment_logs(deployment_id, **query)
            for item in data["logs"] if isinstance(data["logs"], list) else []:
                key = json.dumps(item, sort_keys=True, default=str)
                if key in seen:
                    continue
                seen.add(key)
                if cli.output in ("text", "raw"):
                    click.echo(_line(item))
                else:
                    from kvmesh.cli._render import render

                    click.echo(render(item, cli.output), nl=False)
            time.sleep(interval_s)
    except KeyboardInterrupt:
        return
