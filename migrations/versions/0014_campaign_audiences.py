"""campaign audiences: a campaign targets one or more audiences, each with its pinned version

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 10:00:00

Every campaign's audience (and the version it pinned, if booked) moves from
campaigns.audience_id / audience_version into campaign_audiences as its first
and only entry; then those two columns go. Downgrading moves them back, and is
refused while a campaign targets more than one audience, since the old columns
could keep only one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_audiences",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.Uuid(), nullable=False),
        sa.Column("audience_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_campaign_audiences_audience_id_audiences"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_audiences_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "position", name=op.f("pk_campaign_audiences")),
        sa.UniqueConstraint(
            "campaign_id",
            "audience_id",
            name=op.f("uq_campaign_audiences_campaign_id_audience_id"),
        ),
    )
    op.create_index(
        op.f("ix_campaign_audiences_audience_id"),
        "campaign_audiences",
        ["audience_id"],
        unique=False,
    )
    op.execute(
        "INSERT INTO campaign_audiences (campaign_id, position, audience_id, audience_version)"
        " SELECT id, 0, audience_id, audience_version FROM campaigns"
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint("fk_campaigns_audience_id_audiences", type_="foreignkey")
        batch_op.drop_column("audience_version")
        batch_op.drop_column("audience_id")


def downgrade() -> None:
    several = op.get_bind().execute(
        sa.text(
            "SELECT campaign_id FROM campaign_audiences GROUP BY campaign_id"
            " HAVING count(*) > 1 LIMIT 1"
        )
    )
    if several.first() is not None:
        raise RuntimeError(
            "cannot downgrade below 0014: some campaigns target more than one audience, and "
            "campaigns.audience_id would keep only one of them"
        )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("audience_version", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE campaigns SET"
        " audience_id = (SELECT a.audience_id FROM campaign_audiences a"
        " WHERE a.campaign_id = campaigns.id),"
        " audience_version = (SELECT a.audience_version FROM campaign_audiences a"
        " WHERE a.campaign_id = campaigns.id)"
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.alter_column("audience_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            "fk_campaigns_audience_id_audiences", "audiences", ["audience_id"], ["id"]
        )
    op.drop_index(op.f("ix_campaign_audiences_audience_id"), table_name="campaign_audiences")
    op.drop_table("campaign_audiences")
