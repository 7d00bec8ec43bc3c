"""What the console's usage pages show, read from the daily rollup (see `usage_totals`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvmesh.controlplane.usage_totals import UsageTotals, midnight, total, usage_totals
from kvmesh.store.models import ApiKey, Deployment, LedgerEntry, UsageDailyRollup, User, utcnow
from kvmesh.store.users import balance_micros

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "30d"
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    """A day-aligned UTC period: [start, end); `label` is what the URL carries (7d, 30d, 90d, YYYY-MM)."""

    label: str
    start: datetime
    end: datetime

    @property
    def days(self) -> list[date]:
        count = (self.end - self.start).days
        return [self.start.date() + timedelta(days=i) for i in range(count)]


def parse_period(text: str | None, now: datetime | None = None) -> Period:
    """7d / 30d / 90d end with today (UTC); YYYY-MM is that calendar month; anything else is 30d."""
    tomorrow = midnight((now or utcnow()).date()) + timedelta(days=1)
    label = (text or "").strip()
    match = MONTH.fullmatch(label)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        start = datetime(year, month, 1, tzinfo=tomorrow.tzinfo)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tomorrow.tzinfo)
        return Period(label, start, end)
    if label not in PERIODS:
        label = DEFAULT_PERIOD
    return Period(label, tomorrow - timedelta(days=PERIODS[label]), tomorrow)


@dataclass
class Overview:
    balance_micros: int
    today: UsageTotals
    week: UsageTotals
    month: UsageTotals


def overview(session: Session, user_id: str) -> Overview:
    now = utcnow()
    return Overview(
        balance_micros=balance_micros(session, user_id),
        today=total(session, user_id, midnight(now.date()), None),
        week=total(session, user_id, now - timedelta(days=7), None),
        month=total(session, user_id, now - timedelta(days=30), None),
    )


@dataclass
class UsageView:
    period: Period
    total: UsageTotals
    series: dict[str, list[Any]]
    by_model: list[tuple[str, UsageTotals]]
    by_key: list[tuple[str, str, UsageTotals]]  # key id, label, totals
    models: list[str] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)


def _key_labels(session: Session, user_id: str) -> dict[str, str]:
    rows = session.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.key_prefix).where(ApiKey.user_id == user_id)
    ).tuples()
    return {key_id: f"{name or 'unnamed'} ({prefix}…)" for key_id, name, prefix in rows}


def usage_view(session: Session, user_id: str, period: Period, model: str = "", key: str = "") -> UsageView:
    """Per-day tokens and cache hit rate, per-model and per-key tables, for the filters given."""
    match = {name: value for name, value in (("model", model), ("api_key_id", key)) if value}
    start, end = period.start, period.end
    days = usage_totals(session, user_id, start, end, by=("day",), match=match)
    models = usage_totals(session, user_id, start, end, by=("model",), match=match)
    keys = usage_totals(session, user_id, start, end, by=("api_key_id",), match=match)
    overall = UsageTotals()
    for totals in models.values():
        overall.add(totals)
    series: dict[str, list[Any]] = {"t": [], "uncached": [], "cached": [], "completion": [], "hit": []}
    for day in period.days:
        found = days.get((day,), UsageTotals())
        series["t"].append(int(midnight(day).timestamp()))
        series["uncached"].append(found.prompt_tokens - found.cached_tokens)
        series["cached"].append(found.cached_tokens)
        series["completion"].append(found.completion_tokens)
        series["hit"].append(round(found.cache_hit_rate * 100, 2) if found.prompt_tokens else None)
    labels = _key_labels(session, user_id)
    by_key = [(k[0], labels.get(k[0], "no key") if k[0] else "no key", t) for k, t in keys.items()]
    return UsageView(
        period=period,
        total=overall,
        series=series,
        by_model=sorted(((str(k[0]), t) for k, t in models.items()), key=lambda i: -i[1].cost_micros),
        by_key=sorted(by_key, key=lambda item: -item[2].requests),
        models=_model_names(session, user_id),
        keys=sorted(labels.items(), key=lambda item: item[1]),
    )


def _model_names(session: Session, user_id: str) -> list[str]:
    return list(
        session.scalars(
            select(UsageDailyRollup.model).where(UsageDailyRollup.user_id == user_id).distinct().limit(200)
        ).all()
    )


def savings_series(
    session: Session, user_id: str, period: Period
) -> tuple[UsageTotals, dict[str, list[Any]]]:
    days = usage_totals(session, user_id, period.start, period.end, by=("day",))
    overall = UsageTotals()
    series: dict[str, list[Any]] = {"t": [], "spent": [], "saved": []}
    for day in period.days:
        found = days.get((day,), UsageTotals())
        overall.add(found)
        series["t"].append(int(midnight(day).timestamp()))
        series["spent"].append(found.cost_micros / 1_000_000)
        series["saved"].append(found.savings_micros / 1_000_000)
    return overall, series


@dataclass
class UserRow:
    user: User
    balance_micros: int
    usage: UsageTotals
    deployments: int


def admin_users(session: Session, days: int = 30) -> list[UserRow]:
    """Every user with balance, usage over the last `days` UTC days (today included) and live deployments.

    Day-aligned on purpose: a window across all users reads only the rollup (a partial day would
    scan every user's raw rows of that day, which no index narrows)."""
    tomorrow = midnight(utcnow().date()) + timedelta(days=1)
    users = session.scalars(select(User).order_by(User.created_at)).all()
    usage = usage_totals(session, None, tomorrow - timedelta(days=days), tomorrow, by=("user_id",))
    credits = dict(
        session.execute(
            select(LedgerEntry.user_id, func.sum(LedgerEntry.amount_micros)).group_by(LedgerEntry.user_id)
        )
        .tuples()
        .all()
    )
    spent = dict(
        session.execute(
            select(UsageDailyRollup.user_id, func.sum(UsageDailyRollup.cost_micros)).group_by(
                UsageDailyRollup.user_id
            )
        )
        .tuples()
        .all()
    )
    live = dict(
        session.execute(
            select(Deployment.user_id, func.count())
            .where(Deployment.deleted_at.is_(None), Deployment.status.not_in(("stopping", "stopped")))
            .group_by(Deployment.user_id)
        )
        .tuples()
        .all()
    )
    return [
        UserRow(
            user=user,
            balance_micros=int(credits.get(user.id) or 0) - int(spent.get(user.id) or 0),
            usage=usage.get((user.id,), UsageTotals()),
            deployments=int(live.get(user.id) or 0),
        )
        for user in users
    ]
