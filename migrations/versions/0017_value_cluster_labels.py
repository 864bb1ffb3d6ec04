"""value cluster labels: what each label means, so labels keep their meaning across refreshes

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23 16:00:00

value_cluster_labels keeps every value-cluster label ever issued with its centroid
and the scaler that places it (traits/clusters.py). It starts empty: the first
refresh after this revision takes the centroids the profiles' stored labels
describe, so the labels audiences already use keep their meaning. value_clusters
gains drift (how far each label's centroid moved at the last refresh; NULL until
the next refresh).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "value_cluster_labels",
        sa.Column("label", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("features", _json(), nullable=False),
        sa.Column("centroid", _json(), nullable=False),
        sa.Column("scaler_mean", _json(), nullable=False),
        sa.Column("scaler_scale", _json(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("label", name=op.f("pk_value_cluster_labels")),
    )
    with op.batch_alter_table("value_clusters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drift", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("value_clusters", schema=None) as batch_op:
        batch_op.drop_column("drift")
    op.drop_table("value_cluster_labels")
