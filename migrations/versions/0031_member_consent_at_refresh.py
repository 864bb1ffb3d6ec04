"""audience members keep the consent purposes they held at their version's refresh

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-24 19:00:00

A version's reach and consented size are counted at its refresh and shown to brands from
then on; the difference check compared the member sets behind them with consent as it is
now, so grants or withdrawals after a release could hide "the same minus one shopper"
(audiences/shown_consent.py). Each member row now keeps the purposes it held then, as
bits. Rows of earlier versions take the consent their shoppers hold at this upgrade: what
they held at their refresh was not kept, and this is the nearest record of it.

On PostgreSQL the upgrade rewrites every consenting member row of every version in one
transaction, holding audience_members' lock until it commits: catalog reads, forecasts
and exports wait for it, so run it in a quiet hour on a large install.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The bits are shown_consent.PURPOSE_BITS as this revision was written (spelled out: a
# migration must not move with the code); tests/db/test_member_consent_migration.py checks
# that they are still the code's.
_BACKFILL = (
    "UPDATE audience_members SET purposes_at_refresh = held.bits"
    " FROM (SELECT profile_id, sum(CASE purpose WHEN 'email' THEN 1"
    " WHEN 'targeting_offsite' THEN 2 WHEN 'targeting_onsite' THEN 4 ELSE 0 END) AS bits"
    " FROM profile_consents"
    " WHERE purpose IN ('email', 'targeting_offsite', 'targeting_onsite')"
    " GROUP BY profile_id) AS held"
    " WHERE held.profile_id = audience_members.profile_id"
)


def upgrade() -> None:
    with op.batch_alter_table("audience_members") as batch:
        batch.add_column(
            sa.Column("purposes_at_refresh", sa.SmallInteger(), nullable=False, server_default="0")
        )
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("audience_members") as batch:
        batch.drop_column("purposes_at_refresh")
