"""units windows: units over 4 and 13 weeks per profile and catalog key

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-24 09:00:00

profile_spend and profile_spend_sample gain units_4w and units_13w next to
units_52w, and on PostgreSQL the three units ride in the covering primary key
with the spends (an audience ``units`` condition is then an index-only scan).

Existing rows get 0, and every profile with spend rows is marked stale: the next
trait refresh recomputes them (an ``auto`` refresh does a full one when that many
are marked). Computing the units here would be the refresh's own roll-up (every
purchase line of 52 weeks joined to the catalog) run inside the migration, with
profile_spend locked all along; until that refresh, a ``units`` condition over 4
or 13 weeks reads 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("profile_spend", "profile_spend_sample")
_NEW = ("units_4w", "units_13w")
_BEFORE = "spend_4w, spend_13w, spend_52w"
_AFTER = "spend_4w, spend_13w, spend_52w, units_4w, units_13w, units_52w"


def _covering_key(table: str, include: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
        f"PRIMARY KEY (level, key, profile_id) INCLUDE ({include})"
    )


def _mark_stale() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC there, as the models do
    statement = sa.text(
        "INSERT INTO stale_profiles (profile_id, marked_at)"
        " SELECT DISTINCT profile_id, :now FROM profile_spend"
        " WHERE profile_id NOT IN (SELECT profile_id FROM stale_profiles)"
    ).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)))
    bind.execute(statement, {"now": now})


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in _NEW:
                batch_op.add_column(
                    sa.Column(
                        name, sa.Numeric(precision=14, scale=3), server_default="0", nullable=False
                    )
                )
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in _NEW:
                batch_op.alter_column(name, server_default=None)
        if op.get_bind().dialect.name == "postgresql":
            _covering_key(table, _AFTER)
    _mark_stale()


def downgrade() -> None:
    for table in _TABLES:
        if op.get_bind().dialect.name == "postgresql":
            _covering_key(table, _BEFORE)
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in reversed(_NEW):
                batch_op.drop_column(name)
