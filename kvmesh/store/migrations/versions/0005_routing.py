"""deployments.routing_policy: the Gateway routing policy chosen per deployment

Revision ID: 0005_routing
Revises: 0004_trust_procs
Create Date: 2026-11-29

NULL means "the Gateway's default policy" (least_outstanding unless the operator changed it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_routing"
down_revision: str | None = "0004_trust_procs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routing_policy", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("routing_policy")
