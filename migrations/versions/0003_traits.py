"""traits

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:10:21.261968
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "profile_spend",
        sa.Column(
            "profile_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("spend_4w", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("spend_13w", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("spend_52w", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("units_52w", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("level", "key", "profile_id", name=op.f("pk_profile_spend")),
    )
    with op.batch_alter_table("profile_spend", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_profile_spend_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "value_clusters",
        sa.Column("label", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.Column("mean_spend_52w", sa.Float(), nullable=False),
        sa.Column("mean_baskets_52w", sa.Float(), nullable=False),
        sa.Column("mean_clv_12m", sa.Float(), nullable=False),
        sa.Column("online_share", sa.Float(), nullable=False),
        sa.Column("promo_share", sa.Float(), nullable=False),
        sa.Column(
            "top_categories",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("silhouette", sa.Float(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("label", name=op.f("pk_value_clusters")),
    )
    op.create_table(
        "profile_traits",
        sa.Column(
            "profile_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("baskets_52w", sa.Integer(), nullable=False),
        sa.Column("spend_52w", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("units_52w", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("avg_basket_value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("online_share", sa.Float(), nullable=False),
        sa.Column("promo_share", sa.Float(), nullable=False),
        sa.Column("expected_baskets_12m", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("clv_12m", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("value_tier", sa.String(length=16), nullable=True),
        sa.Column("value_cluster", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_profile_traits_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_profile_traits")),
    )
    with op.batch_alter_table("profile_traits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_profile_traits_as_of"), ["as_of"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_profile_traits_baskets_52w"), ["baskets_52w"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_profile_traits_clv_12m"), ["clv_12m"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_profile_traits_last_purchase_at"), ["last_purchase_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_profile_traits_spend_52w"), ["spend_52w"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_profile_traits_value_cluster"), ["value_cluster"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_profile_traits_value_tier"), ["value_tier"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("profile_traits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_traits_value_tier"))
        batch_op.drop_index(batch_op.f("ix_profile_traits_value_cluster"))
        batch_op.drop_index(batch_op.f("ix_profile_traits_spend_52w"))
        batch_op.drop_index(batch_op.f("ix_profile_traits_last_purchase_at"))
        batch_op.drop_index(batch_op.f("ix_profile_traits_clv_12m"))
        batch_op.drop_index(batch_op.f("ix_profile_traits_baskets_52w"))
        batch_op.drop_index(batch_op.f("ix_profile_traits_as_of"))

    op.drop_table("profile_traits")
    op.drop_table("value_clusters")
    with op.batch_alter_table("profile_spend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_spend_profile_id"))

    op.drop_table("profile_spend")
