"""partner brands: a partner may own single brands, not only whole manufacturers

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 09:00:00

For an agency that handles one brand of a large manufacturer. A partner owns a
brand when the brand is linked here or its manufacturer is in partner_manufacturers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_brands",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_partner_brands_brand_id_brands")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_brands_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "brand_id", name=op.f("pk_partner_brands")),
    )
    op.create_index(
        op.f("ix_partner_brands_brand_id"), "partner_brands", ["brand_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_partner_brands_brand_id"), table_name="partner_brands")
    op.drop_table("partner_brands")
