"""trust money: balance reservations, per-user quotas, unique usage keys

Revision ID: 0007_trust_money
Revises: 0006_trust_secure
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_trust_money"
down_revision: str | None = "0006_trust_secure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("usage_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_usage_records_usage_key", ["usage_key"])
    op.create_table(
        "balance_reservations",
        sa.Column("usage_key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("usage_key"),
    )
    op.create_index("ix_balance_reservations_user_id", "balance_reservations", ["user_id"])
    op.create_index("ix_balance_reservations_expires_at", "balance_reservations", ["expires_at"])
    op.create_table(
        "user_quotas",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("max_deployments", sa.Integer(), nullable=True),
        sa.Column("max_replicas", sa.Integer(), nullable=True),
        sa.Column("max_concurrent_requests", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("user_quotas")
    op.drop_index("ix_balance_reservations_expires_at", table_name="balance_reservations")
    op.drop_index("ix_balance_reservations_user_id", table_name="balance_reservations")
    op.drop_table("balance_reservations")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_constraint("uq_usage_records_usage_key", type_="unique")
        batch.drop_column("usage_key")
