"""activation contacts: who each delivered activation reached, and the pressure_excluded count

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 12:00:00

activation_contacts holds one row per shopper a delivered file reached, so that
other campaigns' exports on the channel can keep each shopper's contacts per week
under the channel's limit. It has no foreign key to activations on purpose (a
per-row check would make recording a million contacts four times slower; see the
model). Activations delivered before this revision recorded
nobody, so they do not count against later exports. Activations that already
have counts get pressure_excluded = 0: nobody was left out for contact pressure
before this revision, and the counts keep adding up.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activation_contacts",
        sa.Column("activation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "profile_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("activation_id", "profile_id", name=op.f("pk_activation_contacts")),
    )
    op.create_index(
        op.f("ix_activation_contacts_profile_id"),
        "activation_contacts",
        ["profile_id"],
        unique=False,
    )
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pressure_excluded", sa.Integer(), nullable=True))
    op.execute("UPDATE activations SET pressure_excluded = 0 WHERE members IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.drop_column("pressure_excluded")
    op.drop_index(op.f("ix_activation_contacts_profile_id"), table_name="activation_contacts")
    op.drop_table("activation_contacts")
