"""sample category spend: each sampled profile's spend in every category, per window

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-24 10:00:00

profile_traits_sample gains category_spend_4w, category_spend_13w and
category_spend_52w: the sums of the profile's category rows in profile_spend_sample,
written with them by every refresh (src/endcap/traits/sample.py). An estimate's
share of category requirements for a seller in most categories reads them less the
few other categories' rows (src/endcap/audiences/compile.py). Existing rows get
their sums here, from the sample's own rows: a few seconds at 1M profiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WINDOWS = ("spend_4w", "spend_13w", "spend_52w")
_FILL = (
    "UPDATE profile_traits_sample SET {columns} FROM (SELECT profile_id, {sums}"
    " FROM profile_spend_sample WHERE level = 'category' GROUP BY profile_id) c"
    " WHERE c.profile_id = profile_traits_sample.profile_id"
)


def upgrade() -> None:
    with op.batch_alter_table("profile_traits_sample", schema=None) as batch_op:
        for window in _WINDOWS:
            batch_op.add_column(
                sa.Column(
                    f"category_{window}",
                    sa.Numeric(precision=14, scale=2),
                    server_default="0",
                    nullable=False,
                )
            )
    op.execute(
        _FILL.format(
            columns=", ".join(f"category_{w} = c.{w}" for w in _WINDOWS),
            sums=", ".join(f"sum({w}) AS {w}" for w in _WINDOWS),
        )
    )
    with op.batch_alter_table("profile_traits_sample", schema=None) as batch_op:
        for window in _WINDOWS:
            batch_op.alter_column(f"category_{window}", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("profile_traits_sample", schema=None) as batch_op:
        for window in reversed(_WINDOWS):
            batch_op.drop_column(f"category_{window}")
