"""capacity reservations name their campaign's brand

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-24 16:30:00

A brand is shown what is left of a week rounded down to a step, around what it holds
itself (privacy/sizes.brand_left): rounding its own bookings in let it find the exact
remainder, and with it a rival's booking, by booking, forecasting and cancelling. Its
holds are summed at every brand forecast and booking, so each reservation keeps its
campaign's brand beside an index. Existing rows take their campaign's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capacity_reservations") as batch:
        batch.add_column(sa.Column("partner_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE capacity_reservations SET partner_id = (SELECT campaigns.partner_id"
        " FROM campaigns WHERE campaigns.id = capacity_reservations.campaign_id)"
    )
    with op.batch_alter_table("capacity_reservations") as batch:
        batch.alter_column("partner_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_capacity_reservations_partner_id_partners"),
            "partners",
            ["partner_id"],
            ["id"],
        )
        batch.create_index(
            op.f("ix_capacity_reservations_partner_id_channel_week_start"),
            ["partner_id", "channel", "week_start"],
        )


def downgrade() -> None:
    with op.batch_alter_table("capacity_reservations") as batch:
        batch.drop_index(op.f("ix_capacity_reservations_partner_id_channel_week_start"))
        batch.drop_constraint(
            op.f("fk_capacity_reservations_partner_id_partners"), type_="foreignkey"
        )
        batch.drop_column("partner_id")
