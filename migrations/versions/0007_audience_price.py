"""audience price

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 02:50:33.845348
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing audiences have no price yet (price on request) and the retailer's currency.
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpm", sa.Numeric(precision=10, scale=2), nullable=True))
        batch_op.add_column(
            sa.Column("currency", sa.String(length=3), server_default="SEK", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.drop_column("currency")
        batch_op.drop_column("cpm")
