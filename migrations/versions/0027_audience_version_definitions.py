"""audience versions record the definition they were computed from

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-24 14:30:00

The difference check compares a refresh with its own audience's released versions when
the audience's rule or model request changed since (audiences/release_check.py); the
digest says which definition each version had. Versions refreshed before this revision
have none and count as the audience's current definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audience_versions") as batch:
        batch.add_column(sa.Column("definition", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audience_versions") as batch:
        batch.drop_column("definition")
