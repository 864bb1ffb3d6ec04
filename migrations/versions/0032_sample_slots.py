"""sample slots: each sampled profile's part of the sample by hash, in the spend key

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-24 22:00:00

profile_traits_sample and profile_spend_sample gain ``slot``: which of eight equal parts
of the sample's hash range the profile is in (src/endcap/traits/sample.py). The sample's
spend key becomes (level, key, slot, profile_id), and its traits get an index on the
slot, so that an estimate reading only the first slots reads only their rows
(src/endcap/audiences/estimate.py); the next refresh writes the traits in slot order.
Existing rows get their slots here, from the share the last refresh sampled: what the
next refresh writes (about 30 s for a million profiles' sample).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRAITS = "profile_traits_sample"
_SPEND = "profile_spend_sample"
_COVERED = "spend_4w, spend_13w, spend_52w, units_4w, units_13w, units_52w"
# traits/sample.py's hash and slot as this revision was written (spelled out: a migration
# must not move with the code); tests/db/test_sample_slots_migration.py checks that they
# are still the code's. Without a sampled refresh the tables are empty.
_FILL = (
    "UPDATE {table} SET slot = COALESCE("
    "(profile_id % 2147483648) * 2654435761 % 4294967296 * 8"
    " / (SELECT CAST(sample_share * 4294967296 AS BIGINT) FROM trait_refreshes"
    " ORDER BY finished_at DESC LIMIT 1), 0)"
)


def _spend_key(columns: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {_SPEND} DROP CONSTRAINT pk_{_SPEND}")
        op.execute(
            f"ALTER TABLE {_SPEND} ADD CONSTRAINT pk_{_SPEND} "
            f"PRIMARY KEY ({columns}) INCLUDE ({_COVERED})"
        )
        return
    with op.batch_alter_table(_SPEND, schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint(f"pk_{_SPEND}", type_="primary")
        batch_op.create_primary_key(f"pk_{_SPEND}", [c.strip() for c in columns.split(",")])


def upgrade() -> None:
    for table in (_TRAITS, _SPEND):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("slot", sa.SmallInteger(), server_default="0", nullable=False)
            )
        op.execute(_FILL.format(table=table))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("slot", server_default=None)
    op.create_index(op.f(f"ix_{_TRAITS}_slot"), _TRAITS, ["slot"], unique=False)
    _spend_key("level, key, slot, profile_id")


def downgrade() -> None:
    _spend_key("level, key, profile_id")
    op.drop_index(op.f(f"ix_{_TRAITS}_slot"), table_name=_TRAITS)
    for table in (_SPEND, _TRAITS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("slot")
