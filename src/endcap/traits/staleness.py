"""Which profiles' traits a load or a merge made stale, for the next incremental refresh.

The transaction loader marks the profiles of every line it writes (and of the
lines it replaces); identity resolution marks both sides of every customer
record it moves. Nothing else changes a profile's purchases: consents do not
feed traits, and erasure deletes the traits itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, Table, delete, func, literal, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.db.bulk import dialect_insert
from endcap.db.locks import hold_lock
from endcap.db.types import UTCDateTime, utcnow
from endcap.traits.models import StaleProfile

STALE = table_of(StaleProfile)


# One lock, held to the end of the transaction, orders loads (when they mark) and
# refreshes: a refresh never clears a mark whose lines it could not see.
TRAITS_LOCK: Final = "traits"


async def lock_traits(session: AsyncSession) -> None:
    """Wait for any refresh, or any load that has marked profiles, to commit (PostgreSQL;
    SQLite has a single writer already)."""
    await hold_lock(session, TRAITS_LOCK)


async def mark_stale(session: AsyncSession, profile_ids: Select[Any]) -> None:
    """Mark the profiles ``profile_ids`` selects (one column; NULLs and repeats are fine)."""
    await lock_traits(session)
    ids = profile_ids.subquery()
    column = ids.c[0]
    query = select(column, literal(utcnow(), UTCDateTime())).where(column.is_not(None)).distinct()
    statement = dialect_insert(session, STALE).from_select(["profile_id", "marked_at"], query)
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["profile_id"], set_={"marked_at": excluded.marked_at}
        )
    )


class StalenessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def marked(self) -> Select[Any]:
        return select(STALE.c.profile_id)

    async def count(self) -> int:
        query = select(func.count()).select_from(STALE)
        return int((await self.session.execute(query)).scalar_one())

    async def clear(self, marked_before: datetime) -> None:
        await self.session.execute(delete(STALE).where(STALE.c.marked_at <= marked_before))

    async def into(self, table: Table) -> None:
        """Copy the marked ids into ``table`` (a one-column temporary table)."""
        await self.session.execute(table.insert().from_select(["profile_id"], self.marked()))
