"""frozen overlaps: how two audience versions overlap, counted once for brand-facing numbers

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-24 15:00:00

Overlaps shown to brands (the catalog's overlap, and the unions of forecasts and bookings)
were counted afresh from live members and consent, so one withdrawal or erasure could move
them between refreshes: a one-shopper change a brand could watch. They are now counted the
first time a number needs them and kept (audiences/frozen_overlaps.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "frozen_overlaps",
        sa.Column("first_audience_id", sa.Uuid(), nullable=False),
        sa.Column("first_version", sa.Integer(), nullable=False),
        sa.Column("second_audience_id", sa.Uuid(), nullable=False),
        sa.Column("second_version", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("first_count", sa.Integer(), nullable=False),
        sa.Column("second_count", sa.Integer(), nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_audience_id"],
            ["audiences.id"],
            name=op.f("fk_frozen_overlaps_first_audience_id_audiences"),
        ),
        sa.ForeignKeyConstraint(
            ["second_audience_id"],
            ["audiences.id"],
            name=op.f("fk_frozen_overlaps_second_audience_id_audiences"),
        ),
        sa.PrimaryKeyConstraint(
            "first_audience_id",
            "first_version",
            "second_audience_id",
            "second_version",
            "purpose",
            name=op.f("pk_frozen_overlaps"),
        ),
    )


def downgrade() -> None:
    op.drop_table("frozen_overlaps")
