"""profile consents: the current consent state per profile and purpose, kept with the ledger

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23 15:00:00

profile_consents holds one row per (profile, purpose) whose latest consent event,
across all the profile's customer records, is a grant (a tie goes to the
withdrawal): the ledger's rule (endcap.consent.service), which reach and exports
read instead of aggregating the whole ledger. The upgrade fills it from the ledger
in one statement; from then on every writer of events, every customer move and
every erasure keeps it in step (endcap.consent.state). The rule is spelt out here
rather than imported, so that this revision keeps meaning what it meant.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
INSERT INTO profile_consents (profile_id, purpose, granted_at)
SELECT c.profile_id, e.purpose, max(CASE WHEN e.status = 'granted' THEN e.recorded_at END)
FROM customers c JOIN consent_events e ON e.customer_ref = c.id
WHERE c.profile_id IS NOT NULL
GROUP BY c.profile_id, e.purpose
HAVING max(CASE WHEN e.status = 'granted' THEN e.recorded_at END) IS NOT NULL
   AND (max(CASE WHEN e.status = 'withdrawn' THEN e.recorded_at END) IS NULL
        OR max(CASE WHEN e.status = 'granted' THEN e.recorded_at END)
         > max(CASE WHEN e.status = 'withdrawn' THEN e.recorded_at END))
"""


def upgrade() -> None:
    op.create_table(
        "profile_consents",
        sa.Column(
            "profile_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_profile_consents_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", "purpose", name=op.f("pk_profile_consents")),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("profile_consents")
