"""Request metrics over a time window, computed from the Gateway's usage rows.

`compute_metrics` is the one entry point (per user, optionally one deployment); it reads raw
`usage_records` today and can later read rollups without changing its callers. Each metric is a
series of `{timestamp, value}` points, one per `step` bucket starting at the window's start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.store.models import UsageRecord

MAX_POINTS = 1440
"""At most this many buckets per series; a smaller step is widened to fit."""


@dataclass(frozen=True)
class MetricsWindow:
    start: datetime
    end: datetime
    step_s: float

    @classmethod
    def fitted(cls, start: datetime, end: datetime, step_s: float | None) -> MetricsWindow:
        """The window with a step of at least span/MAX_POINTS (default: 60 buckets)."""
        span = max(1.0, (end - start).total_seconds())
        step = step_s if step_s is not None and step_s > 0 else span / 60
        return cls(start, end, max(step, span / MAX_POINTS, 1.0))

    def bucket_count(self) -> int:
        return max(1, math.ceil((self.end - self.start).total_seconds() / self.step_s))


@dataclass(frozen=True)
class MetricSeries:
    name: str
    points: list[tuple[str, float]]

    def as_wire(self) -> dict[str, object]:
        return {"name": self.name, "data": [{"timestamp": ts, "value": value} for ts, value in self.points]}


def _percentile(values: Sequence[int], fraction: float) -> float:
    """Nearest-rank percentile (0 for an empty bucket)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def _cache_hit_rate(rows: Sequence[UsageRecord]) -> float:
    prompt = sum(row.prompt_tokens for row in rows)
    return sum(row.cached_tokens for row in rows) / prompt if prompt else 0.0


def _ttfts(rows: Sequence[UsageRecord]) -> list[int]:
    return [row.ttft_ms for row in rows if row.ttft_ms is not None]


METRICS: dict[str, Callable[[Sequence[UsageRecord]], float]] = {
    "request_count": lambda rows: float(len(rows)),
    "error_count": lambda rows: float(sum(1 for row in rows if row.status_code >= 400)),
    "prompt_tokens": lambda rows: float(sum(row.prompt_tokens for row in rows)),
    "completion_tokens": lambda rows: float(sum(row.completion_tokens for row in rows)),
    "cached_tokens": lambda rows: float(sum(row.cached_tokens for row in rows)),
    "ttft_ms_p50": lambda rows: _percentile(_ttfts(rows), 0.50),
    "ttft_ms_p95": lambda rows: _percentile(_ttfts(rows), 0.95),
    "latency_ms_p50": lambda rows: _percentile([row.latency_ms for row in rows], 0.50),
    "latency_ms_p95": lambda rows: _percentile([row.latency_ms for row in rows], 0.95),
    "cache_hit_rate": _cache_hit_rate,
}
"""Metric name -> value of one bucket's rows (tokens by kind, percentiles, cached/prompt tokens)."""


def compute_metrics(
    session: Session, user_id: str, window: MetricsWindow, deployment_id: str | None = None
) -> list[MetricSeries]:
    """Every metric in `METRICS` for the user's requests (one deployment's when given) in `window`."""
    query = select(UsageRecord).where(
        UsageRecord.user_id == user_id,
        UsageRecord.created_at >= window.start,
        UsageRecord.created_at < window.end,
    )
    if deployment_id is not None:
        query = query.where(UsageRecord.deployment_id == deployment_id)
    buckets: list[list[UsageRecord]] = [[] for _ in range(window.bucket_count())]
    for row in session.scalars(query):
        index = int((row.created_at - window.start).total_seconds() // window.step_s)
        buckets[min(index, len(buckets) - 1)].append(row)
    starts = [
        format_rfc3339(window.start + timedelta(seconds=i * window.step_s)) or "" for i in range(len(buckets))
    ]
    return [
        MetricSeries(name, [(start, measure(rows)) for start, rows in zip(starts, buckets, strict=True)])
        for name, measure in METRICS.items()
    ]
