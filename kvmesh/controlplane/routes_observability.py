"""Observability: a deployment's logs, and request metrics per deployment and per user (§7).

Both are scoped like every record route: the caller's own deployments (404 for anyone else's),
or, for admins, the `userId` they name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.deployments import get_owned_deployment
from kvmesh.controlplane.deps import CurrentUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import ShortText, UserIdQuery
from kvmesh.controlplane.replica_logs import deployment_log_lines
from kvmesh.controlplane.rfc3339 import parse_rfc3339
from kvmesh.controlplane.usage_metrics import MetricsWindow, compute_metrics
from kvmesh.controlplane.wire_models import error_responses
from kvmesh.store.models import utcnow

router = APIRouter(tags=["observability"], responses=error_responses())

DEFAULT_LOG_LIMIT = 100
MAX_LOG_LIMIT = 5000
DEFAULT_METRICS_WINDOW = timedelta(hours=1)
DIRECTIONS = ("LOG_DIRECTION_UNSPECIFIED", "LOG_DIRECTION_FORWARD", "LOG_DIRECTION_BACKWARD")
TimeQuery = Annotated[ShortText | None, Query(description="RFC 3339 time or Unix seconds")]


def parse_time(value: str | None, field: str) -> datetime | None:
    """RFC 3339 or Unix seconds; 400 naming the field otherwise."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            return parse_rfc3339(text)
        except ValueError as exc:
            raise ApiError(400, f"{field}: {exc}", "invalid_time") from None
    try:
        from datetime import UTC

        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ApiError(400, f"{field}: {text!r} is out of range", "invalid_time") from None


def _window(start_time: str | None, end_time: str | None) -> tuple[datetime | None, datetime | None]:
    start, end = parse_time(start_time, "startTime"), parse_time(end_time, "endTime")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "startTime must not be after endTime", "invalid_time")
    return start, end


@router.get("/v1/observability/deployments/{deployment_id}/logs")
def deployment_logs(
    deployment_id: str,
    user: CurrentUser,
    session: DbSession,
    services: Services,
    userId: UserIdQuery = None,
    startTime: TimeQuery = None,
    endTime: TimeQuery = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_LOG_LIMIT)] = None,
    direction: Annotated[ShortText | None, Query(description=" | ".join(DIRECTIONS))] = None,
) -> dict[str, Any]:
    """The replicas' recent log lines and lifecycle events: the newest `limit`, in `direction` order."""
    deployment = get_owned_deployment(session, resolve_user_id(user, userId), deployment_id)
    wanted = (direction or "LOG_DIRECTION_UNSPECIFIED").strip().upper()
    if wanted not in DIRECTIONS:
        raise ApiError(400, f"direction must be one of {', '.join(DIRECTIONS)}", "invalid_direction")
    start, end = _window(startTime, endTime)
    lines = [
        line
        for line in deployment_log_lines(services.settings.engine_settings().engines_dir, deployment)
        if (start is None or line.moment >= start) and (end is None or line.moment <= end)
    ]
    lines = lines[-(limit or DEFAULT_LOG_LIMIT) :]
    if wanted == "LOG_DIRECTION_BACKWARD":
        lines.reverse()
    return {"logs": [line.as_wire() for line in lines]}


def _metrics(
    session: Any,
    user_id: str,
    start_time: str | None,
    end_time: str | None,
    step: float | None,
    dep: str | None,
) -> dict[str, Any]:
    start, end = _window(start_time, end_time)
    end = end or utcnow()
    try:
        start = start or end - DEFAULT_METRICS_WINDOW
    except OverflowError:
        raise ApiError(400, "endTime is too early to look back from", "invalid_time") from None
    window = MetricsWindow.fitted(start, end, step)
    return {"metrics": [series.as_wire() for series in compute_metrics(session, user_id, window, dep)]}


StepQuery = Annotated[float | None, Query(gt=0, description="Bucket width in seconds")]


@router.get("/v1/observability/deployments/{deployment_id}/metrics")
def deployment_metrics(
    deployment_id: str,
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    startTime: TimeQuery = None,
    endTime: TimeQuery = None,
    stepSeconds: StepQuery = None,
) -> dict[str, Any]:
    """Request counts, tokens by kind, TTFT/latency percentiles and cache hit rate (default: last hour)."""
    deployment = get_owned_deployment(session, resolve_user_id(user, userId), deployment_id)
    return _metrics(session, deployment.user_id, startTime, endTime, stepSeconds, deployment.id)


@router.get("/v1/observability/users/metrics")
def user_metrics(
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    startTime: TimeQuery = None,
    endTime: TimeQuery = None,
    stepSeconds: StepQuery = None,
) -> dict[str, Any]:
    """The same metrics over all of the user's requests (On-Demand and serverless)."""
    return _metrics(session, resolve_user_id(user, userId), startTime, endTime, stepSeconds, None)
