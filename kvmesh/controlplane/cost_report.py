"""Spend and cache savings per model over a window (`tm cost`, the console): windows and report rows.

A window is one of: `window` = 24h | 7d | 30d ending now (the default is 30d), `month` = YYYY-MM
(UTC calendar month), or `start`/`end` (RFC 3339 or YYYY-MM-DD, UTC; `end` defaults to now and is
exclusive). Sums come from `usage_totals` (rollups for whole days), so they equal the raw rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.orm import Session

from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.money import micros_to_decimal
from kvmesh.controlplane.rfc3339 import format_rfc3339, parse_rfc3339
from kvmesh.controlplane.usage_totals import UsageTotals, usage_totals
from kvmesh.store.models import utcnow

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_WINDOW = "30d"
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
MAX_SPAN = timedelta(days=3660)


@dataclass(frozen=True)
class Window:
    label: str
    start: datetime
    end: datetime
    through_now: bool = False  # ends now: read today from the rollup (see `usage_totals`)


def _moment(text: str, name: str) -> datetime:
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc} (use RFC 3339 or YYYY-MM-DD)", "invalid_window") from None


def _month(text: str) -> Window:
    match = MONTH_PATTERN.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise ApiError(400, f"month must be YYYY-MM, got {text!r}", "invalid_window")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return Window(f"{year:04d}-{month:02d}", start, end)


def resolve_window(
    window: str | None, month: str | None, start: str | None, end: str | None, now: datetime | None = None
) -> Window:
    """The one window a request names; 400 when it names more than one or a bad one."""
    now = now or utcnow()
    named = [name for name, value in (("window", window), ("month", month)) if value]
    if start or end:
        named.append("start/end")
    if len(named) > 1:
        raise ApiError(
            400, f"give only one of window, month or start/end (got {', '.join(named)})", "invalid_window"
        )
    if month:
        return _month(month)
    if start or end:
        if not start:
            raise ApiError(400, "end needs a start", "invalid_window")
        begin = _moment(start, "start")
        finish = _moment(end, "end") if end else now
        if finish <= begin:
            raise ApiError(400, "end must be after start", "invalid_window")
        if finish - begin > MAX_SPAN:
            raise ApiError(400, "a window spans at most 3660 days", "invalid_window")
        return Window("custom", begin, finish, through_now=not end)
    label = (window or DEFAULT_WINDOW).strip()
    if label not in WINDOWS:
        raise ApiError(400, f"window must be one of {', '.join(WINDOWS)}, got {label!r}", "invalid_window")
    return Window(label, now - WINDOWS[label], now, through_now=True)


class CostLine(BaseModel):
    model: str
    requests: int
    promptTokens: int
    cachedTokens: int
    completionTokens: int
    cacheHitRate: float
    costUsd: str
    savingsUsd: str


class CostReport(BaseModel):
    window: str
    start: str
    end: str
    models: list[CostLine]
    total: CostLine


def cost_line(model: str, totals: UsageTotals) -> CostLine:
    return CostLine(
        model=model,
        requests=totals.requests,
        promptTokens=totals.prompt_tokens,
        cachedTokens=totals.cached_tokens,
        completionTokens=totals.completion_tokens,
        cacheHitRate=round(totals.cache_hit_rate, 4),
        costUsd=micros_to_decimal(totals.cost_micros),
        savingsUsd=micros_to_decimal(totals.savings_micros),
    )


def cost_report(session: Session, user_id: str, window: Window) -> CostReport:
    """Per-model lines (largest spend first) and their total."""
    end = None if window.through_now else window.end
    per_model = usage_totals(session, user_id, window.start, end, by=("model",))
    overall = UsageTotals()
    for totals in per_model.values():
        overall.add(totals)
    ordered = sorted(per_model.items(), key=lambda item: (-item[1].cost_micros, str(item[0][0])))
    return CostReport(
        window=window.label,
        start=format_rfc3339(window.start) or "",
        end=format_rfc3339(window.end) or "",
        models=[cost_line(str(key[0]), totals) for key, totals in ordered],
        total=cost_line("(all models)", overall),
    )
