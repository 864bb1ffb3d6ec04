"""erasure tombstones count the activation files in the file drop rewritten without the person

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-24 14:40:00

Tombstones written before this revision count none (their erasures rewrote no file).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("erasure_tombstones") as batch:
        batch.add_column(
            sa.Column("activation_files_scrubbed", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("erasure_tombstones") as batch:
        batch.drop_column("activation_files_scrubbed")
