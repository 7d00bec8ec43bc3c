"""Billing for the signed-in user: pricing (serverless, GPU), balance, transactions, spending, usage.

Amounts are integer micro-dollars in the store and Google `Money` on the wire. The admin billing
routes live in `routes_billing_admin` and are mounted on this module's router.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.billing_queries import (
    daily_spending,
    encode_page_token,
    older_than,
    serverless_pricing_rows,
    spent_since,
)
from kvmesh.controlplane.billing_records import (
    Balance,
    GpuPricingList,
    ServerlessPricingList,
    SpendingBucket,
    SpendingHistory,
    SpendingSummary,
    TransactionsPage,
    UsagePage,
    gpu_pricing,
    money,
    serverless_pricing,
    transaction,
    usage_item,
)
from kvmesh.controlplane.deps import CurrentUser, DbSession
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import PageSizeQuery, ShortText, UserIdQuery
from kvmesh.controlplane.rfc3339 import format_rfc3339, parse_rfc3339
from kvmesh.controlplane.routes_billing_admin import router as admin_router
from kvmesh.controlplane.wire_models import error_responses
from kvmesh.store.models import GpuPrice, LedgerEntry, UsageRecord, utcnow
from kvmesh.store.users import balance_micros

router = APIRouter(tags=["billing"], responses=error_responses())


@router.get("/v1/billing/serverless-pricing", response_model=ServerlessPricingList)
def list_serverless_pricing(
    user: CurrentUser,
    session: DbSession,
    model: Annotated[ShortText | None, Query(description="Only this serverless model")] = None,
    activeOnly: bool = False,
) -> ServerlessPricingList:
    """The serverless catalog with per-1M-token prices; `model` is what the serverless surface accepts."""
    rows = serverless_pricing_rows(session, model, activeOnly)
    return ServerlessPricingList(pricing=[serverless_pricing(row) for row in rows])


@router.get("/v1/billing/gpu-pricing", response_model=GpuPricingList)
def list_gpu_pricing(
    user: CurrentUser,
    session: DbSession,
    cloudProvider: ShortText | None = None,
    gpuType: ShortText | None = None,
    activeOnly: bool = False,
) -> GpuPricingList:
    """Hourly GPU prices per cloud provider."""
    query = select(GpuPrice).order_by(GpuPrice.cloud_provider, GpuPrice.gpu_type)
    if cloudProvider:
        query = query.where(GpuPrice.cloud_provider == cloudProvider.strip())
    if gpuType:
        query = query.where(GpuPrice.gpu_type == gpuType.strip())
    if activeOnly:
        query = query.where(GpuPrice.is_active.is_(True))
    return GpuPricingList(pricing=[gpu_pricing(row) for row in session.scalars(query)])


@router.get("/v1/billing/balance", response_model=Balance)
def get_balance(user: CurrentUser, session: DbSession, userId: UserIdQuery = None) -> Balance:
    """Credits granted minus usage charged."""
    return Balance(balance=money(balance_micros(session, resolve_user_id(user, userId))))


@router.get("/v1/billing/transactions", response_model=TransactionsPage)
def list_transactions(
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    pageSize: PageSizeQuery = 50,
    pageToken: ShortText | None = None,
) -> TransactionsPage:
    """Balance movements (credit grants, adjustments), newest first; pass `nextPageToken` back for more."""
    target = resolve_user_id(user, userId)
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.user_id == target)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(pageSize + 1)
    )
    if pageToken:
        query = query.where(older_than(LedgerEntry.created_at, LedgerEntry.id, pageToken))
    rows = list(session.scalars(query).all())
    more = len(rows) > pageSize
    rows = rows[:pageSize]
    token = encode_page_token(rows[-1].created_at, rows[-1].id) if more else ""
    return TransactionsPage(transactions=[transaction(row) for row in rows], nextPageToken=token)


@router.get("/v1/billing/spending/summary", response_model=SpendingSummary)
def spending_summary(user: CurrentUser, session: DbSession, userId: UserIdQuery = None) -> SpendingSummary:
    """Usage charges over the last 24 hours, 7 days and 30 days."""
    target = resolve_user_id(user, userId)
    now = utcnow()
    return SpendingSummary(
        spend24h=money(spent_since(session, target, now - timedelta(days=1))),
        spend7d=money(spent_since(session, target, now - timedelta(days=7))),
        spend30d=money(spent_since(session, target, now - timedelta(days=30))),
    )


@router.get("/v1/billing/spending/history", response_model=SpendingHistory)
def spending_history(
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    days: Annotated[int, Query(ge=1, le=366, description="Daily buckets, ending today (UTC)")] = 30,
) -> SpendingHistory:
    """Daily usage charges (and cache savings at serverless prices), oldest bucket first."""
    buckets = daily_spending(session, resolve_user_id(user, userId), days)
    return SpendingHistory(
        buckets=[
            SpendingBucket(
                bucketStart=format_rfc3339(bucket.start) or "",
                amount=money(bucket.amount_micros),
                costSaving=money(bucket.saving_micros),
            )
            for bucket in buckets
        ]
    )


@router.get("/v1/billing/usage", response_model=UsagePage)
def list_usage(
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    model: ShortText | None = None,
    since: Annotated[ShortText | None, Query(description="RFC 3339; only records at or after it")] = None,
    pageSize: PageSizeQuery = 50,
    pageToken: ShortText | None = None,
) -> UsagePage:
    """Metered inference requests (tokens, latency, cost), newest first."""
    target = resolve_user_id(user, userId)
    query = (
        select(UsageRecord)
        .where(UsageRecord.user_id == target)
        .order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
        .limit(pageSize + 1)
    )
    if model:
        query = query.where(UsageRecord.model == model.strip())
    if since:
        try:
            query = query.where(UsageRecord.created_at >= parse_rfc3339(since))
        except ValueError as exc:
            raise ApiError(400, f"since: {exc}", "invalid_since") from None
    if pageToken:
        query = query.where(older_than(UsageRecord.created_at, UsageRecord.id, pageToken, int))
    rows = list(session.scalars(query).all())
    more = len(rows) > pageSize
    rows = rows[:pageSize]
    token = encode_page_token(rows[-1].created_at, rows[-1].id) if more else ""
    return UsagePage(usage=[usage_item(row) for row in rows], nextPageToken=token)


router.include_router(admin_router)
