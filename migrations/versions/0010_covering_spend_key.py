"""covering spend key: the window spends ride in profile_spend's primary key

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 07:05:00

An audience condition on a department, category, brand or maker then needs no
heap visit (an index-only scan once VACUUM has set the visibility map). SQLite
has no INCLUDE and keeps its key as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROP = "ALTER TABLE profile_spend DROP CONSTRAINT pk_profile_spend"
_COVERING = (
    "ALTER TABLE profile_spend ADD CONSTRAINT pk_profile_spend "
    "PRIMARY KEY (level, key, profile_id) INCLUDE (spend_4w, spend_13w, spend_52w)"
)
_PLAIN = (
    "ALTER TABLE profile_spend ADD CONSTRAINT pk_profile_spend PRIMARY KEY (level, key, profile_id)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)
        op.execute(_COVERING)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)
        op.execute(_PLAIN)
