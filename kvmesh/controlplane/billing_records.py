"""Billing records on the wire (Money, pricing, transactions, spending, usage) built from store rows."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kvmesh.controlplane.money import micros_to_money
from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.store.models import GpuPrice, LedgerEntry, ServerlessModel, UsageRecord


class Money(BaseModel):
    """Google `Money`: `units` is a decimal integer string, `nanos` shares its sign."""

    currencyCode: str = "USD"
    units: str = Field(pattern=r"^-?[0-9]+$")
    nanos: int = Field(ge=-999_999_999, le=999_999_999)


def money(micros: int) -> Money:
    return Money.model_validate(micros_to_money(micros))


class ServerlessPricing(BaseModel):
    id: str
    name: str
    model: str = Field(description="The name to pass as `model` on the serverless surface")
    inputTokenPrice: Money = Field(description="Per 1M input tokens")
    outputTokenPrice: Money = Field(description="Per 1M output tokens")
    cachedTokenPrice: Money = Field(description="Per 1M cached input tokens")
    isActive: bool


class ServerlessPricingList(BaseModel):
    pricing: list[ServerlessPricing]


class ServerlessPricingEnvelope(BaseModel):
    pricing: ServerlessPricing


class GpuPricing(BaseModel):
    gpuType: str
    cloudProvider: str
    hourlyRate: Money = Field(description="Per GPU-hour")
    isActive: bool


class GpuPricingList(BaseModel):
    pricing: list[GpuPricing]


class Balance(BaseModel):
    balance: Money


class Transaction(BaseModel):
    transactionId: str
    createdAt: str
    amount: Money
    description: str
    status: str
    type: str
    stripePaymentIntentId: str | None = None
    paymentMethodId: str | None = None


class TransactionsPage(BaseModel):
    transactions: list[Transaction]
    nextPageToken: str = Field(description="Empty when there are no more pages")


class SpendingSummary(BaseModel):
    spend24h: Money
    spend7d: Money
    spend30d: Money


class SpendingBucket(BaseModel):
    bucketStart: str
    amount: Money
    costSaving: Money


class SpendingHistory(BaseModel):
    buckets: list[SpendingBucket]


class UsageItem(BaseModel):
    id: str
    requestId: str
    createdAt: str
    surface: str
    model: str
    deploymentId: str | None
    endpoint: str
    streamed: bool
    promptTokens: int
    completionTokens: int
    cachedTokens: int
    latencyMs: int
    ttftMs: int | None
    statusCode: int
    cost: Money


class UsagePage(BaseModel):
    usage: list[UsageItem]
    nextPageToken: str = Field(description="Empty when there are no more pages")


class UserBalance(BaseModel):
    userId: str
    balance: Money


class UserBalances(BaseModel):
    balances: list[UserBalance]


def serverless_pricing(row: ServerlessModel) -> ServerlessPricing:
    return ServerlessPricing(
        id=row.id,
        name=row.name,
        model=row.model,
        inputTokenPrice=money(row.input_price_micros),
        outputTokenPrice=money(row.output_price_micros),
        cachedTokenPrice=money(row.cached_price_micros),
        isActive=row.is_active,
    )


def gpu_pricing(row: GpuPrice) -> GpuPricing:
    return GpuPricing(
        gpuType=row.gpu_type,
        cloudProvider=row.cloud_provider,
        hourlyRate=money(row.hourly_rate_micros),
        isActive=row.is_active,
    )


def transaction(entry: LedgerEntry) -> Transaction:
    return Transaction(
        transactionId=entry.id,
        createdAt=format_rfc3339(entry.created_at) or "",
        amount=money(entry.amount_micros),
        description=entry.description,
        status="TRANSACTION_STATUS_SUCCEEDED",
        type=f"TRANSACTION_TYPE_{entry.kind.upper()}",
    )


def usage_item(row: UsageRecord) -> UsageItem:
    return UsageItem(
        id=str(row.id),
        requestId=row.request_id,
        createdAt=format_rfc3339(row.created_at) or "",
        surface=row.surface,
        model=row.model,
        deploymentId=row.deployment_id,
        endpoint=row.endpoint,
        streamed=row.streamed,
        promptTokens=row.prompt_tokens,
        completionTokens=row.completion_tokens,
        cachedTokens=row.cached_tokens,
        latencyMs=row.latency_ms,
        ttftMs=row.ttft_ms,
        statusCode=row.status_code,
        cost=money(row.cost_micros),
    )
