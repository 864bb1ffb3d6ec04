"""estimate sample: traits and spend of a hashed share of the profiles, for rule estimates

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 08:00:00

Each trait refresh fills the two tables and records the sample's share and sizes
on its trait_refreshes row (see src/endcap/traits/sample.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WINDOWS = ["spend_4w", "spend_13w", "spend_52w"]


def _money() -> sa.Numeric:  # type: ignore[type-arg]
    return sa.Numeric(precision=14, scale=2)


def upgrade() -> None:
    with op.batch_alter_table("trait_refreshes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sample_share", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("sample_profiles", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("profiles", sa.Integer(), nullable=True))
    op.create_table(
        "profile_traits_sample",
        sa.Column("profile_id", _ID, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("baskets_52w", sa.Integer(), nullable=False),
        sa.Column("spend_52w", _money(), nullable=False),
        sa.Column("units_52w", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("avg_basket_value", _money(), nullable=False),
        sa.Column("baskets_total", sa.Integer(), nullable=False),
        sa.Column("mean_basket_value", _money(), nullable=False),
        sa.Column("online_share", sa.Float(), nullable=False),
        sa.Column("promo_share", sa.Float(), nullable=False),
        sa.Column("expected_baskets_12m", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("clv_12m", _money(), nullable=True),
        sa.Column("value_tier", sa.String(length=16), nullable=True),
        sa.Column("value_cluster", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_profile_traits_sample_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_profile_traits_sample")),
    )
    op.create_table(
        "profile_spend_sample",
        sa.Column("profile_id", _ID, nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("spend_4w", _money(), nullable=False),
        sa.Column("spend_13w", _money(), nullable=False),
        sa.Column("spend_52w", _money(), nullable=False),
        sa.Column("units_52w", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "level",
            "key",
            "profile_id",
            name=op.f("pk_profile_spend_sample"),
            postgresql_include=_WINDOWS,
        ),
    )


def downgrade() -> None:
    op.drop_table("profile_spend_sample")
    op.drop_table("profile_traits_sample")
    with op.batch_alter_table("trait_refreshes", schema=None) as batch_op:
        batch_op.drop_column("profiles")
        batch_op.drop_column("sample_profiles")
        batch_op.drop_column("sample_share")
