"""quote change notifications: a NOTIFY from every change to audiences, their versions and
channel settings

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-24 02:40:00

Each server process keeps the bookable audiences and channel rates that drafts and
forecasts quote from in memory, and empties that cache on every notification on the
channel ``endcap_quote_changes`` (src/endcap/marketplace/quote_changes.py). The triggers
send it from the very transaction that changes a row, however that happens (the API, a
refresh, an erasure recomputing counts, SQL by hand), so that it arrives when, and only
if, the change commits. A process caches nothing unless all three triggers are there and
enabled. PostgreSQL only: on SQLite nothing is cached.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("audiences", "audience_versions", "channel_settings")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION endcap_notify_quote_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN PERFORM pg_notify('endcap_quote_changes', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    # Per statement: one notification per change however many rows it touched. Inserts
    # too: nothing cached depends on a new row today, but a cache of what is not there
    # (a channel without a rate card) would.
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_change"
            f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION endcap_notify_quote_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS endcap_notify_quote_change()")
