"""audience versions count their members holding any channel's consent purpose

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-24 15:30:00

The catalog showed brands an audience's size counting members who had consented to no
channel at all; it now shows this count (rounded). Versions refreshed before this
revision have none, and brands see their size until the next refresh.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audience_versions") as batch:
        batch.add_column(sa.Column("consented_size", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audience_versions") as batch:
        batch.drop_column("consented_size")
