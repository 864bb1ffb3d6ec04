"""audiences

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 00:22:54.493714
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audiences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "rule",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audiences")),
        sa.UniqueConstraint("name", name=op.f("uq_audiences_name")),
    )
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audiences_created_at"), ["created_at"], unique=False)

    op.create_table(
        "audience_members",
        sa.Column("audience_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "profile_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_audience_members_audience_id_audiences"),
        ),
        sa.PrimaryKeyConstraint(
            "audience_id", "version", "profile_id", name=op.f("pk_audience_members")
        ),
    )
    with op.batch_alter_table("audience_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audience_members_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "audience_versions",
        sa.Column("audience_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "reach",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_audience_versions_audience_id_audiences"),
        ),
        sa.PrimaryKeyConstraint("audience_id", "version", name=op.f("pk_audience_versions")),
    )


def downgrade() -> None:

    op.drop_table("audience_versions")
    with op.batch_alter_table("audience_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audience_members_profile_id"))

    op.drop_table("audience_members")
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audiences_created_at"))

    op.drop_table("audiences")
