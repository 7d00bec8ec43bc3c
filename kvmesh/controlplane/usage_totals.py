"""Usage sums over any time window: whole UTC days from the daily rollup, partial days from raw rows.

A window [start, end) is cut into the whole days it contains (read from `usage_daily_rollups`)
and at most two partial days at its edges (read from `usage_records` through the
(user_id, created_at) index), so the answer equals the sum of the raw rows exactly while no read
scans more than one day of raw rows per edge. A window that ends now (or later) reads today from
the rollup too (pass `end=None`): no row is recorded after now, so today's rollup rows are the whole
of today so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvmesh.store.models import UsageDailyRollup, UsageRecord, utcnow
from kvmesh.store.usage_rollup import PICOS_PER_MICRO, saving_rates

DIMENSIONS = ("user_id", "day", "model", "deployment_id", "api_key_id")
ONE_DAY = timedelta(days=1)


@dataclass
class UsageTotals:
    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0
    savings_picos: int = 0

    @property
    def savings_micros(self) -> int:
        return self.savings_picos // PICOS_PER_MICRO

    @property
    def cache_hit_rate(self) -> float:
        """Cached share of prompt tokens (0 when there were none)."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def add(self, other: UsageTotals) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.cached_tokens += other.cached_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_micros += other.cost_micros
        self.savings_picos += other.savings_picos


Key = tuple[Any, ...]
Match = Mapping[str, str]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def split_window(
    start: datetime, end: datetime
) -> tuple[tuple[date, date] | None, list[tuple[datetime, datetime]]]:
    """(first whole day, day after the last whole day) or None, and partial ranges within one day each."""
    if end <= start:
        return None, []
    first_full = (
        midnight(start.date()) if start == midnight(start.date()) else midnight(start.date()) + ONE_DAY
    )
    last_full_end = midnight(end.date())
    if first_full >= last_full_end:
        cut = midnight(end.date())
        pieces = [(start, cut), (cut, end)] if start < cut < end else [(start, end)]
        return None, pieces
    ranges = []
    if start < first_full:
        ranges.append((start, first_full))
    if last_full_end < end:
        ranges.append((last_full_end, end))
    return (first_full.date(), last_full_end.date()), ranges


def _rollup_sums(
    session: Session, user_id: str | None, days: tuple[date, date], by: Sequence[str], match: Match
) -> list[tuple[Key, UsageTotals]]:
    r = UsageDailyRollup
    columns = [getattr(r, name) for name in by]
    query = select(
        *columns,
        func.sum(r.requests),
        func.sum(r.prompt_tokens),
        func.sum(r.cached_tokens),
        func.sum(r.completion_tokens),
        func.sum(r.cost_micros),
        func.sum(r.savings_picos),
    ).where(r.day >= days[0], r.day < days[1])
    if user_id is not None:
        query = query.where(r.user_id == user_id)
    for name, value in match.items():
        query = query.where(getattr(r, name) == value)
    if columns:
        query = query.group_by(*columns)
    result = []
    for row in session.execute(query).tuples():
        values = [int(v or 0) for v in row[len(by) :]]
        if values[0]:
            result.append((tuple(row[: len(by)]), UsageTotals(*values)))
    return result


def _raw_sums(
    session: Session,
    user_id: str | None,
    span: tuple[datetime, datetime],
    by: Sequence[str],
    match: Match,
) -> list[tuple[Key, UsageTotals]]:
    u = UsageRecord
    raw_columns = {
        "user_id": u.user_id,
        "model": u.model,
        "deployment_id": func.coalesce(u.deployment_id, ""),
        "api_key_id": func.coalesce(u.api_key_id, ""),
    }
    names = [name for name in by if name != "day"]
    if "model" not in names:
        names.append("model")  # savings need each row's model
    query = select(
        *(raw_columns[name] for name in names),
        func.count(),
        func.sum(u.prompt_tokens),
        func.sum(u.cached_tokens),
        func.sum(u.completion_tokens),
        func.sum(u.cost_micros),
    ).where(u.created_at >= span[0], u.created_at < span[1])
    if user_id is not None:
        query = query.where(u.user_id == user_id)
    for name, value in match.items():
        query = query.where(raw_columns[name] == value)
    query = query.group_by(*(raw_columns[name] for name in names))
    rows = session.execute(query).tuples().all()
    rates = saving_rates(session, {str(row[names.index("model")]) for row in rows})
    result = []
    for row in rows:
        found = dict(zip(names, row[: len(names)], strict=True))
        found["day"] = span[0].date()
        requests, prompt, cached, completion, cost = (int(v or 0) for v in row[len(names) :])
        saving = cached * rates.get(str(found["model"]), 0)
        totals = UsageTotals(requests, prompt, cached, completion, cost, saving)
        result.append((tuple(found[name] for name in by), totals))
    return result


def usage_totals(
    session: Session,
    user_id: str | None,
    start: datetime,
    end: datetime | None,
    by: Sequence[str] = (),
    match: Match | None = None,
) -> dict[Key, UsageTotals]:
    """Usage in [start, end) — `end` None: through now — for one user (None: everyone), summed per value
    of the `by` dimensions;
    `match` keeps only rows whose model / deployment_id / api_key_id equal the given values."""
    match = dict(match or {})
    unknown = [name for name in [*by, *match] if name not in DIMENSIONS or (name in match and name == "day")]
    if unknown:
        raise ValueError(f"unknown usage dimensions: {unknown}")
    if end is None:  # through now: no row is recorded after now, so today's rollup rows cover the rest
        end = midnight(utcnow().date()) + ONE_DAY
    whole_days, partial = split_window(start, end)
    parts: list[tuple[Key, UsageTotals]] = []
    if whole_days is not None:
        parts += _rollup_sums(session, user_id, whole_days, by, match)
    for span in partial:
        parts += _raw_sums(session, user_id, span, by, match)
    sums: dict[Key, UsageTotals] = {}
    for key, totals in parts:
        sums.setdefault(key, UsageTotals()).add(totals)
    return sums


def total(session: Session, user_id: str | None, start: datetime, end: datetime | None) -> UsageTotals:
    return usage_totals(session, user_id, start, end).get((), UsageTotals())
