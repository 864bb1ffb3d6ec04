"""model audiences: kind, spec, seeds, version report

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 02:40:26.077684
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audience_seeds",
        sa.Column("audience_id", sa.Uuid(), nullable=False),
        sa.Column(
            "profile_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["audience_id"], ["audiences.id"], name=op.f("fk_audience_seeds_audience_id_audiences")
        ),
        sa.PrimaryKeyConstraint("audience_id", "profile_id", name=op.f("pk_audience_seeds")),
    )
    with op.batch_alter_table("audience_seeds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audience_seeds_profile_id"), ["profile_id"], unique=False
        )

    with op.batch_alter_table("audience_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report", _json(), nullable=True))

    # Existing audiences are all rule audiences: the server default fills them in.
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="rule", nullable=False)
        )
        batch_op.add_column(sa.Column("spec", _json(), nullable=True))
        batch_op.alter_column("rule", existing_type=_json(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.alter_column("rule", existing_type=_json(), nullable=False)
        batch_op.drop_column("spec")
        batch_op.drop_column("kind")

    with op.batch_alter_table("audience_versions", schema=None) as batch_op:
        batch_op.drop_column("report")

    with op.batch_alter_table("audience_seeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audience_seeds_profile_id"))

    op.drop_table("audience_seeds")
