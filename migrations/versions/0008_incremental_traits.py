"""incremental traits

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 02:53:24.669186
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stale_profiles",
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_stale_profiles")),
    )
    op.create_table(
        "trait_refreshes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("profiles_recomputed", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trait_refreshes")),
    )
    with op.batch_alter_table("trait_refreshes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trait_refreshes_finished_at"), ["finished_at"], unique=False
        )

    # Existing rows get 0 until the next refresh, which is a full one (no refresh is
    # recorded yet) and fills both; the default exists only to add the columns.
    with op.batch_alter_table("profile_traits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("baskets_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "mean_basket_value",
                sa.Numeric(precision=14, scale=2),
                server_default="0",
                nullable=False,
            )
        )
    with op.batch_alter_table("profile_traits", schema=None) as batch_op:
        batch_op.alter_column("baskets_total", server_default=None)
        batch_op.alter_column("mean_basket_value", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("profile_traits", schema=None) as batch_op:
        batch_op.drop_column("mean_basket_value")
        batch_op.drop_column("baskets_total")

    with op.batch_alter_table("trait_refreshes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trait_refreshes_finished_at"))

    op.drop_table("trait_refreshes")
    op.drop_table("stale_profiles")
