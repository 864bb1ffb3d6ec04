"""erased customers: the suppression list that keeps an erasure from being undone by a reload

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-24 09:45:00

Each erased customer id is kept as its SHA-256 (hex) only; a load leaves those customers'
rows out (ingest/suppress.py) and counts them in ``ingest_runs.rows_suppressed``.
Erasures made before this revision left no such record: their people come back if a file
still holds them (erase them again after the upgrade if that happens).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_customers",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_erased_customers")),
    )
    with op.batch_alter_table("ingest_runs") as batch:
        batch.add_column(
            sa.Column("rows_suppressed", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_runs") as batch:
        batch.drop_column("rows_suppressed")
    op.drop_table("erased_customers")
