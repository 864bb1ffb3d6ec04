"""audience names: unique among audiences not deleted

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-24 09:00:00

A deleted audience stays (campaigns pinned its versions), and held its name for good: the
retailer could never make an audience of that name again. The name is now unique only
among audiences that are not deleted (a partial unique index, on both databases).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("status <> 'deleted'")


def upgrade() -> None:
    with op.batch_alter_table("audiences") as batch:
        batch.drop_constraint("uq_audiences_name", type_="unique")
    op.create_index(
        "ix_audiences_name",
        "audiences",
        ["name"],
        unique=True,
        postgresql_where=_LIVE,
        sqlite_where=_LIVE,
    )


def downgrade() -> None:
    # Refused by the database when a deleted audience's name was used again.
    op.drop_index("ix_audiences_name", table_name="audiences")
    with op.batch_alter_table("audiences") as batch:
        batch.create_unique_constraint("uq_audiences_name", ["name"])
