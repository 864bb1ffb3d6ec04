"""key change notifications: a NOTIFY from every change to api_keys and partners

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24 00:30:00

Each server process keeps the API keys it has looked up in memory and empties that
cache on every notification on the channel ``endcap_key_changes``
(src/endcap/auth/key_changes.py). The triggers send it from the very transaction
that revokes a key, changes its role or changes or removes a partner, however that
happens (the API, ``endcap keys revoke``, SQL by hand), so that it arrives when,
and only if, the change commits. A process caches nothing unless both triggers are
there and enabled. PostgreSQL only: on SQLite keys are not cached.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("api_keys", "partners")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION endcap_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN PERFORM pg_notify('endcap_key_changes', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    # Per statement: one notification per change however many rows it touched (PostgreSQL
    # folds repeats within a transaction anyway). A new key needs none: only keys found
    # valid are cached.
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_change"
            f" AFTER UPDATE OR DELETE OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION endcap_notify_key_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS endcap_notify_key_change()")
