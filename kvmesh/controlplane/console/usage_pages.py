"""Console pages over usage and money: Overview, Usage (+ CSV), Cost Saving and Billing."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from kvmesh.controlplane.billing_queries import encode_page_token, older_than
from kvmesh.controlplane.console.rendering import ConsoleCtx, html_errors
from kvmesh.controlplane.console.usage_views import (
    overview,
    parse_period,
    savings_series,
    usage_view,
)
from kvmesh.controlplane.money import micros_to_decimal
from kvmesh.store.models import LedgerEntry, utcnow

router = APIRouter()
BILLING_PAGE_SIZE = 25


def _recent_months(count: int = 12) -> list[str]:
    first = utcnow().date().replace(day=1)
    months = []
    for _ in range(count):
        months.append(first.strftime("%Y-%m"))
        first = (first - timedelta(days=1)).replace(day=1)
    return months


@router.get("")
@html_errors
def overview_page(console: ConsoleCtx) -> Response:
    return console.page("overview.html", o=overview(console.db, console.user.id))


@router.get("/usage")
@html_errors
def usage_page(console: ConsoleCtx, period: str = "30d", model: str = "", key: str = "") -> Response:
    view = usage_view(console.db, console.user.id, parse_period(period), model[:200], key[:36])
    query = urlencode({k: v for k, v in (("period", view.period.label), ("model", model), ("key", key)) if v})
    chart = json.dumps({"kind": "usage", "series": view.series}).replace("</", "<\\/")
    return console.page(
        "usage.html", v=view, model=model, key=key, query=query, chart_json=chart, months=_recent_months()
    )


@router.get("/usage.csv")
@html_errors
def usage_csv(console: ConsoleCtx, period: str = "30d", model: str = "", key: str = "") -> Response:
    """One row per model and API key per day in the period (the rollup grain), for spreadsheets."""
    from kvmesh.controlplane.usage_totals import usage_totals

    chosen = parse_period(period)
    match = {name: value for name, value in (("model", model[:200]), ("api_key_id", key[:36])) if value}
    sums = usage_totals(
        console.db, console.user.id, chosen.start, chosen.end, by=("day", "model", "api_key_id"), match=match
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "day",
            "model",
            "api_key_id",
            "requests",
            "prompt_tokens",
            "cached_tokens",
            "completion_tokens",
            "cost_usd",
            "savings_usd",
        ]
    )
    for (day, name, key_id), t in sorted(sums.items()):
        writer.writerow(
            [
                day.isoformat(),
                name,
                key_id,
                t.requests,
                t.prompt_tokens,
                t.cached_tokens,
                t.completion_tokens,
                micros_to_decimal(t.cost_micros),
                micros_to_decimal(t.savings_micros),
            ]
        )
    filename = f"kvmesh-usage-{chosen.label}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/savings")
@html_errors
def savings_page(console: ConsoleCtx, period: str = "30d") -> Response:
    chosen = parse_period(period)
    totals, series = savings_series(console.db, console.user.id, chosen)
    denominator = totals.cost_micros + totals.savings_micros
    chart = json.dumps({"kind": "savings", "series": series}).replace("</", "<\\/")
    return console.page(
        "savings.html",
        period=chosen,
        t=totals,
        rate=totals.savings_micros / denominator if denominator else 0.0,
        chart_json=chart,
    )


@router.get("/billing")
@html_errors
def billing_page(console: ConsoleCtx, page: str = "") -> Response:
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.user_id == console.user.id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(BILLING_PAGE_SIZE + 1)
    )
    if page:
        query = query.where(older_than(LedgerEntry.created_at, LedgerEntry.id, page[:500]))
    rows = list(console.db.scalars(query).all())
    more = len(rows) > BILLING_PAGE_SIZE
    rows = rows[:BILLING_PAGE_SIZE]
    token = encode_page_token(rows[-1].created_at, rows[-1].id) if more else ""
    return console.page(
        "billing.html", o=overview(console.db, console.user.id), transactions=rows, next_token=token
    )
