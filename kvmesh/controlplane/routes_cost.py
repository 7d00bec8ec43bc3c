"""`GET /v1/billing/cost`: spend and cache savings per model over a window (what `tm cost` prints)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.cost_report import CostReport, cost_report, resolve_window
from kvmesh.controlplane.deps import CurrentUser, DbSession
from kvmesh.controlplane.inputs import ShortText, UserIdQuery
from kvmesh.controlplane.wire_models import error_responses

router = APIRouter(tags=["billing"], responses=error_responses())


@router.get("/v1/billing/cost", response_model=CostReport)
def get_cost(
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    window: Annotated[ShortText | None, Query(description="24h, 7d or 30d ending now (default 30d)")] = None,
    month: Annotated[ShortText | None, Query(description="A UTC calendar month, YYYY-MM")] = None,
    start: Annotated[ShortText | None, Query(description="RFC 3339 or YYYY-MM-DD (UTC), inclusive")] = None,
    end: Annotated[ShortText | None, Query(description="RFC 3339 or YYYY-MM-DD (UTC), exclusive")] = None,
) -> CostReport:
    """Per-model requests, tokens (prompt / cached / completion), cache hit rate, cost and savings."""
    target = resolve_user_id(user, userId)
    return cost_report(session, target, resolve_window(window, month, start, end))
