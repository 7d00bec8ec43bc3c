"""replica process identity: pid start time, so a restarted Control Plane adopts running engines

Revision ID: 0004_trust_procs
Revises: 0003_clisurface
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_trust_procs"
down_revision: str | None = "0003_clisurface"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("replicas") as batch:
        batch.add_column(sa.Column("pid_start_ticks", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replicas") as batch:
        batch.drop_column("pid_start_ticks")
