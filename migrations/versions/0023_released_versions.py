"""released versions: when each audience version was first shown to brands

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-24 08:30:00

The difference check compares a new release with every member set brands have been
shown, not only with the audiences published now: a brand that saw audience A keeps what
it learnt after A is deleted, or after A's rule changes, so "A minus one shopper" must
stay refused (src/endcap/privacy/difference.py). ``released_at`` marks the versions that
were current while their audience was published.

Existing rows: the current version of each published audience, and every version a
campaign pinned (it was bookable, so published, then), count as released from now. A
deleted audience's versions that no campaign pinned are left unmarked: whether they were
ever published is not recorded anywhere before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audience_versions") as batch:
        batch.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC there, as the models do
    statement = sa.text(
        """
        UPDATE audience_versions SET released_at = :now
        WHERE EXISTS (
            SELECT 1 FROM audiences a
            WHERE a.id = audience_versions.audience_id
              AND a.status = 'published'
              AND a.current_version = audience_versions.version
        ) OR EXISTS (
            SELECT 1 FROM campaign_audiences c
            WHERE c.audience_id = audience_versions.audience_id
              AND c.audience_version = audience_versions.version
        )
        """
    ).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)))
    bind.execute(statement, {"now": now})


def downgrade() -> None:
    with op.batch_alter_table("audience_versions") as batch:
        batch.drop_column("released_at")
