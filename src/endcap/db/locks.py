"""Named locks held to the end of the transaction that takes them: how writers that must
not interleave (loads, refreshes, publications, consent state, exports) take turns.

On PostgreSQL each is a transaction-level advisory lock keyed by :func:`lock_key`, so it
ends with the commit or rollback and can never be left behind. SQLite has one writer at
a time and no such locks. There a caller that reads before it writes asks for
``sqlite_write_lock``: a delete that matches nothing takes the database's write lock up
front, because a read transaction that writes later fails outright in WAL mode once
another writer has committed meanwhile.
"""

from __future__ import annotations

import zlib

from sqlalchemy import Table, delete, false, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.bulk import is_postgres


def lock_key(name: str) -> int:
    """The advisory lock key of the lock called ``name``: under 2**32, so one bigint."""
    return zlib.crc32(f"endcap:{name}".encode())


async def hold_lock(
    session: AsyncSession,
    name: str,
    *,
    shared: bool = False,
    sqlite_write_lock: Table | None = None,
) -> None:
    """Wait for, then hold until this transaction ends, the lock called ``name``: shared
    holders run side by side and exclude an exclusive one. On SQLite, an empty delete
    on ``sqlite_write_lock`` when given, else nothing."""
    if is_postgres(session):
        take = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        await session.execute(select(take(lock_key(name))))
    elif sqlite_write_lock is not None:
        await take_sqlite_write_lock(session, sqlite_write_lock)


async def take_sqlite_write_lock(session: AsyncSession, table: Table) -> None:
    """On SQLite, the database's write lock now, by a delete on ``table`` that matches
    nothing (see the module docstring; SQLite also ignores FOR UPDATE). Nothing on
    PostgreSQL."""
    if not is_postgres(session):
        await session.execute(delete(table).where(false()))
