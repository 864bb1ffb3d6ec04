"""job leases: a running job's heartbeat and how often it was claimed

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 07:30:00

A job left running by a worker that died is reclaimed once its heartbeat is older
than the lease (see src/endcap/jobs/reclaim.py). Jobs running when this is applied
have no heartbeat: they count as abandoned, as nothing renews them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The default exists only to add the column to existing rows: new jobs get 0 from
    # the model.
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("heartbeat_at")
