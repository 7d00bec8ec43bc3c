"""Billing reads scoped to one user: keyset page tokens, spending windows and daily spending buckets."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.rfc3339 import format_rfc3339, parse_rfc3339
from kvmesh.controlplane.usage_totals import total, usage_totals
from kvmesh.store.models import ServerlessModel, utcnow


def encode_page_token(created_at: datetime, row_id: object) -> str:
    """Opaque cursor naming the last row of a page (newest-first order: created_at, then id)."""
    raw = f"{format_rfc3339(created_at)}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token.strip() + "=" * (-len(token.strip()) % 4)).decode()
        stamp, _, row_id = raw.partition("|")
        if not row_id:
            raise ValueError("no id")
        return parse_rfc3339(stamp), row_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "pageToken is not a token this server issued", "invalid_page_token") from None


def older_than(
    created: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[Any],
    token: str,
    id_type: type = str,
) -> ColumnElement[bool]:
    """Rows after the cursor in (created_at desc, id desc) order."""
    stamp, row_id = decode_page_token(token)
    try:
        last_id = id_type(row_id)
        if isinstance(last_id, int) and not 0 <= last_id < 2**63:
            raise ValueError("id out of range")
    except ValueError:
        raise ApiError(400, "pageToken is not a token this server issued", "invalid_page_token") from None
    return or_(created < stamp, and_(created == stamp, ident < last_id))


def spent_since(session: Session, user_id: str, since: datetime) -> int:
    return total(session, user_id, since, None).cost_micros


@dataclass(frozen=True)
class DayBucket:
    start: datetime
    amount_micros: int
    saving_micros: int


def daily_spending(session: Session, user_id: str, days: int, now: datetime | None = None) -> list[DayBucket]:
    """One bucket per UTC day for the last `days` days (oldest first), today included, from the rollup.

    `saving_micros` is what cached input tokens saved at serverless list prices (`usage_rollup`)."""
    today = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    sums = usage_totals(session, user_id, first, today + timedelta(days=1), by=("day",))
    buckets = []
    for i in range(days):
        start = first + timedelta(days=i)
        found = sums.get((start.date(),))
        buckets.append(
            DayBucket(start, found.cost_micros if found else 0, found.savings_micros if found else 0)
        )
    return buckets


def serverless_pricing_rows(session: Session, model: str | None, active_only: bool) -> list[ServerlessModel]:
    query = select(ServerlessModel).order_by(ServerlessModel.model)
    if model is not None and model.strip():
        query = query.where(ServerlessModel.model == model.strip())
    if active_only:
        query = query.where(ServerlessModel.is_active.is_(True))
    return list(session.scalars(query).all())
