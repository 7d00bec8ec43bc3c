"""`tm activities list|get`: the account's audit log (sign-ins, keys, deployments, credit, roles)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import require_text
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call


@click.group(name="activities")
def activities() -> None:
    """Account activity log (Control Plane).

    \b
    Examples:
      tm activities list --action ACTIVITY_ACTION_API_KEY_CREATED
      tm activities get ACTIVITY_ID
    """


@activities.command(name="list")
@click.option("--user-id", default=None, help="Optional user id to scope results.")
@click.option("--action", default=None, help="Filter by action (ACTIVITY_ACTION_*).")
@click.option("--resource-type", default=None, help="Filter by resource type (RESOURCE_TYPE_*).")
@click.option("--resource-id", default=None, help="Filter by resource id.")
@click.option("--start-time", default=None, help="Start time (RFC3339).")
@click.option("--end-time", default=None, help="End time (RFC3339).")
@click.option("--page", type=int, default=None, help="Page number (from 1).")
@click.option("--size", type=int, default=None, help="Page size.")
@TIMEOUT_OPTION
@pass_cli
def list_activities(
    cli: CliContext,
    user_id: str | None,
    action: str | None,
    resource_type: str | None,
    resource_id: str | None,
    start_time: str | None,
    end_time: str | None,
    page: int | None,
    size: int | None,
    timeout: float | None,
) -> None:
    """List activities, newest first (GET /v1/activities).

    \b
    Example:
      tm --output table activities list --size 20
    """
    check_timeout(timeout)
    params = {
        "userId": user_id,
        "action": action,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "startTime": start_time,
        "endTime": end_time,
        "page": page,
        "size": size,
    }
    emit_controlplane_call(cli, "GET", "/v1/activities", None, timeout, params=params)


@activities.command(name="get")
@click.argument("activity_id")
@TIMEOUT_OPTION
@pass_cli
def get_activity(cli: CliContext, activity_id: str, timeout: float | None) -> None:
    """Get one activity (GET /v1/activities/{activityId}).

    \b
    Example:
      tm activities get ACTIVITY_ID
    """
    from kvmesh.client import path_segment

    check_timeout(timeout)
    path = f"/v1/activities/{path_segment(require_text(activity_id, 'ACTIVITY_ID'))}"
    emit_controlplane_call(cli, "GET", path, "activity", timeout)
