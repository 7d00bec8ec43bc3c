"""SQLAlchemy models: the schema the Control Plane owns and the Gateway reads.

Conventions: ids are canonical lower-case UUID strings (String(36)); timestamps are
timezone-aware UTC; money is integer micro-units of USD (1 USD = 1_000_000) — never float;
secrets are never stored in clear: API keys as a keyed hash (lookup) plus an encrypted copy
(owner listing), passwords as argon2 hashes, refresh tokens and login codes as SHA-256.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(40), default="USER_ROLE_USER")  # or USER_ROLE_ADMIN
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """A gateway API key. `key_hash` = HMAC-SHA256(server secret, key) for O(1) lookup;
    `key_encrypted` = Fernet(server secret) copy shown only to the owner."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL", use_alter=True), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_encrypted: Mapped[str] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(String(16))  # first characters, for display
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CatalogModel(Base):
    """A model the platform can serve (embedded GGUF, a vLLM model id, ...)."""

    __tablename__ = "catalog_models"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # e.g. HuggingFaceTB/SmolLM2-135M-Instruct
    description: Mapped[str] = mapped_column(Text, default="")
    engine: Mapped[str] = mapped_column(String(40), default="llamacpp")  # llamacpp | vllm | external
    source: Mapped[str] = mapped_column(Text, default="")  # GGUF path, package:<dist>, or HF-style id
    context_length: Mapped[int] = mapped_column(Integer, default=8192)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


DEPLOYMENT_STATUSES = ("pending", "starting", "ready", "failed", "stopping", "stopped")


class Deployment(Base):
    """A user's On-Demand deployment: one served gateway model name backed by N replicas."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("user_id", "served_name", name="uq_deployment_user_served_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    catalog_model_id: Mapped[str | None] = mapped_column(ForeignKey("catalog_models.id"))
    served_name: Mapped[str] = mapped_column(String(200))  # the gateway `model` (modelName)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    provider: Mapped[str] = mapped_column(String(40), default="llamacpp")  # llamacpp | vllm | external
    cloud_provider: Mapped[str] = mapped_column(String(40), default="CLOUD_PROVIDER_ONPREM")
    region: Mapped[str] = mapped_column(String(100), default="local")
    replicas_desired: Mapped[int] = mapped_column(Integer, default=1)
    gpu_type: Mapped[str] = mapped_column(String(40), default="")
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    engine_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # provider-specific
    endpoint: Mapped[str] = mapped_column(String(500), default="")  # gateway base users call
    last_error: Mapped[str] = mapped_column(Text, default="")
    serverless: Mapped[bool] = mapped_column(Boolean, default=False)  # also backs a serverless entry
    routing_policy: Mapped[str | None] = mapped_column(String(40))  # Gateway policy; None = its default
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    replicas: Mapped[list[Replica]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan", order_by="Replica.ordinal"
    )
    events: Mapped[list[DeploymentEvent]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan", order_by="DeploymentEvent.created_at"
    )


class Replica(Base):
    """One engine process (or external endpoint) serving a deployment; `url` is its OpenAI base."""

    __tablename__ = "replicas"
    __table_args__ = (UniqueConstraint("deployment_id", "ordinal", name="uq_replica_ordinal"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str] = mapped_column(String(500), default="")  # e.g. http://127.0.0.1:40123/v1
    status: Mapped[str] = mapped_column(
        String(20), default="pending"
    )  # pending|starting|ready|failed|stopped
    pid: Mapped[int | None] = mapped_column(Integer)
    # the engine's start time (/proc/<pid>/stat field 22): pid + this identify it across restarts
    pid_start_ticks: Mapped[int | None] = mapped_column(BigInteger)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    deployment: Mapped[Deployment] = relationship(back_populates="replicas")


class DeploymentEvent(Base):
    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    log: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    deployment: Mapped[Deployment] = relationship(back_populates="events")


class ServerlessModel(Base):
    """A serverless catalog entry: callable by `model` name with any valid key; prices per 1M tokens."""

    __tablename__ = "serverless_models"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))  # display name
    model: Mapped[str] = mapped_column(String(200), unique=True)  # what clients pass as `model`
    deployment_id: Mapped[str | None] = mapped_column(ForeignKey("deployments.id", ondelete="SET NULL"))
    input_price_micros: Mapped[int] = mapped_column(BigInteger, default=0)  # per 1M input tokens
    output_price_micros: Mapped[int] = mapped_column(BigInteger, default=0)  # per 1M output tokens
    cached_price_micros: Mapped[int] = mapped_column(BigInteger, default=0)  # per 1M cached input tokens
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class GpuPrice(Base):
    __tablename__ = "gpu_prices"
    __table_args__ = (UniqueConstraint("gpu_type", "cloud_provider", name="uq_gpu_price"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    gpu_type: Mapped[str] = mapped_column(String(60))
    cloud_provider: Mapped[str] = mapped_column(String(60))
    hourly_rate_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class UsageRecord(Base):
    """One inference request as metered by the Gateway (written in batches)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_user_created", "user_id", "created_at"),
        UniqueConstraint("usage_key", name="uq_usage_records_usage_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    deployment_id: Mapped[str | None] = mapped_column(String(36))
    surface: Mapped[str] = mapped_column(String(20))  # on-demand | serverless
    model: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(60), default="/v1/chat/completions")
    streamed: Mapped[bool] = mapped_column(Boolean, default=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ms: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int] = mapped_column(Integer, default=200)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The Gateway's own id for this record (unique; NULL on rows from before it existed). `request_id` is
    # the client's X-Request-Id and may repeat; `usage_key` makes replaying the Gateway's spool idempotent.
    usage_key: Mapped[str | None] = mapped_column(String(64))


class LedgerEntry(Base):
    """Balance movements: credit grants (+) and usage charges (-). Balance = sum(amount_micros)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))  # credit_grant | usage | adjustment
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)  # rotation family, for reuse detection
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CliLoginCode(Base):
    """A pending `tm auth login`: the code is shown on the approve page; tokens are handed out once."""

    __tablename__ = "cli_login_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_code: Mapped[str] = mapped_column(String(16))  # short human code shown on the page, e.g. ABCD-EFGH
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|approved|denied|consumed
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServerSetting(Base):
    """Server-generated secrets and settings (JWT signing key, key-hash secret, ...)."""

    __tablename__ = "server_settings"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BalanceReservation(Base):
    """Money held for one in-flight priced request (its maximum cost), taken before the upstream call.

    Deleted in the same transaction that writes the request's usage record (settle); a row left by a
    Gateway that died stops counting at `expires_at` and is then swept.
    """

    __tablename__ = "balance_reservations"

    usage_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class UserQuota(Base):
    """An admin's per-user override of the quota settings; NULL fields fall back to the server setting."""

    __tablename__ = "user_quotas"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    max_deployments: Mapped[int | None] = mapped_column(Integer)
    max_replicas: Mapped[int | None] = mapped_column(Integer)
    max_concurrent_requests: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UsageDailyRollup(Base):
    """Usage summed per user, UTC day, model, deployment and API key; kept current by the usage writer
    in the same transaction as the raw rows (`kvmesh.store.usage_rollup`). '' stands for "none" in
    `deployment_id` / `api_key_id` so they can be part of the key. `savings_picos` is cached tokens x
    (input − cached price per 1M tokens): pico-dollars, exact; the readers floor it to micro-dollars."""

    __tablename__ = "usage_daily_rollups"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(String(36), primary_key=True, default="")
    api_key_id: Mapped[str] = mapped_column(String(36), primary_key=True, default="")
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    savings_picos: Mapped[int] = mapped_column(BigInteger, default=0)


# -- account surface (issue 13): audit log, support, billing address, products, terms, Stripe ids --


class Activity(Base):
    """One audited account action; rows are only ever inserted (see `controlplane.activities`)."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_user_occurred", "user_id", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36))  # the account the action concerns (owner)
    actor_id: Mapped[str | None] = mapped_column(String(36))  # who did it (an admin, or the owner)
    actor_type: Mapped[str] = mapped_column(String(40), default="ACTOR_TYPE_USER")
    actor_display: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(80), index=True)
    resource_type: Mapped[str] = mapped_column(String(80), default="")
    resource_id: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupportTicket(Base):
    """A user's support ticket; the operator answers and closes it with `tm admin` commands."""

    __tablename__ = "support_tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    ticket_type: Mapped[str] = mapped_column(String(80), default="TICKET_TYPE_GENERAL")
    status: Mapped[str] = mapped_column(String(40), default="TICKET_STATUS_OPEN")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketMessage.id"
    )


class TicketMessage(Base):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    user_name: Mapped[str] = mapped_column(String(320), default="")
    user_role: Mapped[str] = mapped_column(String(40), default="USER_ROLE_USER")
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[SupportTicket] = relationship(back_populates="messages")


class ReservedDeploymentRequest(Base):
    """A request for reserved capacity, stored for the operator (`tm admin` lists and answers it)."""

    __tablename__ = "reserved_deployment_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(40), default="REQUEST_STATUS_OPEN")
    answer: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BillingAddress(Base):
    __tablename__ = "billing_addresses"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Product(Base):
    """A deployable offering (`tm products list`): seeded from the catalog, editable by admins."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    required_gpu_num: Mapped[int] = mapped_column(Integer, default=0)
    family: Mapped[str] = mapped_column(String(80), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TosAcceptance(Base):
    """A user accepted the operator's terms of service in `version` (the newest row counts)."""

    __tablename__ = "tos_acceptances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(80))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StripeCustomer(Base):
    __tablename__ = "stripe_customers"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
