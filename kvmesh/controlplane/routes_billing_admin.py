"""Admin billing: credit users, read balances, and edit the serverless and GPU price lists (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvmesh.controlplane import activities
from kvmesh.controlplane.access import canonical_user_id
from kvmesh.controlplane.activities import record_activity
from kvmesh.controlplane.billing_queries import serverless_pricing_rows
from kvmesh.controlplane.billing_records import (
    Balance,
    GpuPricing,
    ServerlessPricingEnvelope,
    ServerlessPricingList,
    UserBalance,
    UserBalances,
    gpu_pricing,
    money,
    serverless_pricing,
)
from kvmesh.controlplane.deps import AdminUser, DbSession
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import SafeText, ShortText
from kvmesh.controlplane.money import MoneyError, amount_to_micros
from kvmesh.controlplane.wire_models import EmptyResult, error_responses
from kvmesh.store.models import GpuPrice, LedgerEntry, ServerlessModel, User
from kvmesh.store.users import balance_micros

router = APIRouter(tags=["admin-billing"], responses=error_responses())

MAX_AMOUNT_MICROS = 10**15  # one billion USD: far beyond any real grant, far inside BIGINT
Amount = dict[str, Any] | ShortText | int | float


class BalanceAddBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: ShortText | None = None
    targetUserId: ShortText
    amount: Amount = Field(description='Money object, decimal string ("12.50") or number, in USD')
    description: SafeText = ""


class BalancesLookupBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: ShortText | None = None
    targetUserIds: list[ShortText] = Field(max_length=500)


class ServerlessPricingIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: ShortText | None = None
    name: ShortText | None = None
    model: ShortText | None = None
    inputTokenPrice: Amount | None = None
    outputTokenPrice: Amount | None = None
    cachedTokenPrice: Amount | None = None
    isActive: bool | None = None


class ServerlessPricingUpsert(BaseModel):
    pricing: ServerlessPricingIn


class GpuPricingIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    gpuType: ShortText = Field(max_length=60)
    cloudProvider: ShortText = Field(max_length=60)
    hourlyRate: Amount | None = None
    isActive: bool | None = None


class GpuPricingUpsert(BaseModel):
    pricing: GpuPricingIn


class GpuPricingEnvelope(BaseModel):
    pricing: GpuPricing


def to_micros(amount: object, field: str, *, allow_negative: bool = False) -> int:
    try:
        micros = amount_to_micros(amount)
    except MoneyError as exc:
        raise ApiError(400, f"{field}: {exc}", "invalid_amount") from None
    if abs(micros) > MAX_AMOUNT_MICROS or (micros < 0 and not allow_negative):
        raise ApiError(400, f"{field} must be between 0 and 1000000000 USD", "invalid_amount")
    return micros


def _user(session: Session, user_id: str) -> User:
    user = session.get(User, canonical_user_id(user_id))
    if user is None:
        raise ApiError(404, f"no such user: {user_id}", "user_not_found")
    return user


@router.post("/v1/admin/billing/balances:add", response_model=Balance)
def add_balance(body: BalanceAddBody, admin: AdminUser, session: DbSession) -> Balance:
    """Credit (or, with a negative amount, debit) a user's balance; returns the new balance."""
    target = _user(session, body.targetUserId)
    micros = to_micros(body.amount, "amount", allow_negative=True)
    if micros == 0:
        raise ApiError(400, "amount must not be zero", "invalid_amount")
    kind = "credit_grant" if micros > 0 else "adjustment"
    description = body.description.strip() or f"{kind.replace('_', ' ')} by {admin.email}"
    session.add(LedgerEntry(user_id=target.id, amount_micros=micros, kind=kind, description=description))
    record_activity(
        session,
        user_id=target.id,
        action=activities.CREDIT_GRANTED,
        actor=admin,
        resource_type=activities.RESOURCE_BALANCE,
        resource_id=target.id,
        description=description,
        details={"amountMicros": micros, "kind": kind},
    )
    session.commit()
    return Balance(balance=money(balance_micros(session, target.id)))


@router.post("/v1/admin/billing/balances", response_model=UserBalances)
def lookup_balances(body: BalancesLookupBody, admin: AdminUser, session: DbSession) -> UserBalances:
    users = [_user(session, user_id) for user_id in body.targetUserIds]
    return UserBalances(
        balances=[
            UserBalance(userId=user.id, balance=money(balance_micros(session, user.id))) for user in users
        ]
    )


@router.get("/v1/admin/billing/serverless-pricing", response_model=ServerlessPricingList)
def admin_list_serverless_pricing(
    admin: AdminUser, session: DbSession, model: ShortText | None = None, activeOnly: bool = False
) -> ServerlessPricingList:
    rows = serverless_pricing_rows(session, model, activeOnly)
    return ServerlessPricingList(pricing=[serverless_pricing(row) for row in rows])


def _upsert_serverless(session: Session, entry: ServerlessPricingIn) -> ServerlessModel:
    model = entry.model.strip() if entry.model else None
    row: ServerlessModel | None = None
    if entry.id:
        row = session.get(ServerlessModel, entry.id.strip())
        if row is None:
            raise ApiError(404, f"no such serverless pricing id: {entry.id}", "pricing_not_found")
    elif model:
        row = session.scalar(select(ServerlessModel).where(ServerlessModel.model == model))
    else:
        raise ApiError(400, "pricing.model (or pricing.id) is required", "missing_model")
    if model and (row is None or row.model != model):
        clash = session.scalar(select(ServerlessModel).where(ServerlessModel.model == model))
        if clash is not None and clash is not row:
            raise ApiError(409, f"another pricing entry already serves model {model!r}", "model_taken")
    if row is None:
        assert model is not None
        row = ServerlessModel(model=model, name=model, input_price_micros=0, output_price_micros=0)
        row.cached_price_micros = 0
        row.is_active = True
        session.add(row)
    if model:
        row.model = model
    if entry.name is not None and entry.name.strip():
        row.name = entry.name.strip()
    if entry.inputTokenPrice is not None:
        row.input_price_micros = to_micros(entry.inputTokenPrice, "inputTokenPrice")
    if entry.outputTokenPrice is not None:
        row.output_price_micros = to_micros(entry.outputTokenPrice, "outputTokenPrice")
    if entry.cachedTokenPrice is not None:
        row.cached_price_micros = to_micros(entry.cachedTokenPrice, "cachedTokenPrice")
    if entry.isActive is not None:
        row.is_active = entry.isActive
    session.flush()
    return row


@router.post("/v1/admin/billing/serverless-pricing", response_model=ServerlessPricingEnvelope)
@router.put("/v1/admin/billing/serverless-pricing", response_model=ServerlessPricingEnvelope)
def upsert_serverless_pricing(
    body: ServerlessPricingUpsert, admin: AdminUser, session: DbSession
) -> ServerlessPricingEnvelope:
    """Create or update a serverless entry, by `id` when given, else by `model`; prices per 1M tokens."""
    try:
        row = _upsert_serverless(session, body.pricing)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "the pricing entry changed concurrently; retry", "conflict") from None
    return ServerlessPricingEnvelope(pricing=serverless_pricing(row))


@router.delete("/v1/admin/billing/serverless-pricing", response_model=EmptyResult)
def delete_serverless_pricing(
    admin: AdminUser, session: DbSession, id: Annotated[ShortText, Query(description="Pricing entry id")]
) -> EmptyResult:
    row = session.get(ServerlessModel, id.strip())
    if row is None:
        raise ApiError(404, f"no such serverless pricing id: {id}", "pricing_not_found")
    session.delete(row)
    session.commit()
    return EmptyResult()


@router.post("/v1/admin/billing/gpu-pricing", response_model=GpuPricingEnvelope)
@router.put("/v1/admin/billing/gpu-pricing", response_model=GpuPricingEnvelope)
def upsert_gpu_pricing(body: GpuPricingUpsert, admin: AdminUser, session: DbSession) -> GpuPricingEnvelope:
    entry = body.pricing
    gpu_type, provider = entry.gpuType.strip(), entry.cloudProvider.strip()
    if not gpu_type or not provider:
        raise ApiError(400, "pricing.gpuType and pricing.cloudProvider are required", "missing_gpu_type")
    row = session.scalar(
        select(GpuPrice).where(GpuPrice.gpu_type == gpu_type, GpuPrice.cloud_provider == provider)
    )
    if row is None:
        row = GpuPrice(gpu_type=gpu_type, cloud_provider=provider, hourly_rate_micros=0, is_active=True)
        session.add(row)
    if entry.hourlyRate is not None:
        row.hourly_rate_micros = to_micros(entry.hourlyRate, "hourlyRate")
    if entry.isActive is not None:
        row.is_active = entry.isActive
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "the GPU price changed concurrently; retry", "conflict") from None
    return GpuPricingEnvelope(pricing=gpu_pricing(row))


@router.delete("/v1/admin/billing/gpu-pricing/{gpuType}/{cloudProvider}", response_model=EmptyResult)
def delete_gpu_pricing(
    gpuType: ShortText, cloudProvider: ShortText, admin: AdminUser, session: DbSession
) -> EmptyResult:
    row = session.scalar(
        select(GpuPrice).where(
            GpuPrice.gpu_type == gpuType.strip(), GpuPrice.cloud_provider == cloudProvider.strip()
        )
    )
    if row is None:
        raise ApiError(404, f"no GPU price for {gpuType} on {cloudProvider}", "pricing_not_found")
    session.delete(row)
    session.commit()
    return EmptyResult()
