"""`tm metrics deployment|user`: request metrics over a time window, from the usage data (§7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, cli_errors, controlplane_for, emit_response


@click.group(name="metrics")
def metrics() -> None:
    """Observability metrics (Control Plane): requests, tokens, TTFT/latency percentiles, cache hits.

    \b
    Examples:
      tm metrics user --start-time 2026-01-01T00:00:00Z --step-seconds 3600
      tm --output json metrics deployment DEPLOYMENT_ID
    """


def window_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--user-id", default=None, help="Optional user id to scope results."),
            click.option(
                "--start-time", default=None, help="Start time (RFC3339 or Unix seconds; default 1 h ago)."
            ),
            click.option("--end-time", default=None, help="End time (RFC3339 or Unix seconds; default now)."),
            click.option("--step-seconds", type=int, default=None, help="Metrics step size in seconds."),
        ]
    ):
        func = option(func)
    return func


def _window(user_id: str | None, start: str | None, end: str | None, step: int | None) -> dict[str, Any]:
    return {"user_id": user_id, "start_time": start, "end_time": end, "step_seconds": step}


@metrics.command(name="deployment")
@click.argument("deployment_id")
@window_options
@TIMEOUT_OPTION
@pass_cli
def deployment_metrics(
    cli: CliContext,
    deployment_id: str,
    user_id: str | None,
    start_time: str | None,
    end_time: str | None,
    step_seconds: int | None,
    timeout: float | None,
) -> None:
    """Fetch deployment metrics (GET /v1/observability/deployments/{deploymentId}/metrics).

    \b
    Example:
      tm metrics deployment DEPLOYMENT_ID --step-seconds 300
    """
    check_timeout(timeout)
    if not deployment_id.strip():
        raise usage_error("DEPLOYMENT_ID is required.")
    window = _window(user_id, start_time, end_time, step_seconds)
    with cli_errors():
        data, response = controlplane_for(cli, timeout).deployment_metrics(deployment_id, **window)
    emit_response(cli, data, response.text)


@metrics.command(name="user")
@window_options
@TIMEOUT_OPTION
@pass_cli
def user_metrics(
    cli: CliContext,
    user_id: str | None,
    start_time: str | None,
    end_time: str | None,
    step_seconds: int | None,
    timeout: float | None,
) -> None:
    """Fetch user metrics (GET /v1/observability/users/metrics).

    \b
    Example:
      tm metrics user
    """
    check_timeout(timeout)
    with cli_errors():
        data, response = controlplane_for(cli, timeout).user_metrics(
            **_window(user_id, start_time, end_time, step_seconds)
        )
    emit_response(cli, data, response.text)
