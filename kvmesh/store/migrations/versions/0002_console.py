"""daily usage rollups (console, tm cost, spending summaries), backfilled from usage_records

Revision ID: 0002_console
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_console"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from kvmesh.store.usage_rollup import backfill_rollups

    op.create_table(
        "usage_daily_rollups",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("savings_picos", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", "model", "deployment_id", "api_key_id"),
    )
    backfill_rollups(op.get_bind())


def downgrade() -> None:
    op.drop_table("usage_daily_rollups")
