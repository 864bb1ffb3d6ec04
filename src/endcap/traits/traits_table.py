"""A full refresh of ``profile_traits`` on PostgreSQL: build a fresh table, then swap it in.

As ``profile_spend`` (spend_table.py): inserting every profile's row into the live
table maintained its primary key, seven secondary indexes and the foreign key's
per-row trigger, and the value and cluster steps then rewrote every row once more
(an UPDATE moving each row's entries in all eight indexes). A fresh table made by
CREATE TABLE AS takes the rows at heap speed; the value and cluster steps update it
while it has no index; its indexes are built once, by sorting, just before the swap.
Measured at 100k profiles (89,719 traits rows) with EXPLAIN ANALYZE, alternately, on
two busy cores (load ~2.4): the INSERT 10.2 / 9.0 s (1.0 s of it the foreign key's
trigger), the CREATE TABLE AS 5.7 / 5.3 s. In whole refreshes, alternately (load 3-5,
another benchmark running): the traits step 9.9 / 10.5 / 14.3 s before, 4.7 / 4.2 /
7.5 s after, plus 1.7 / 1.7 / 1.4 s to index and swap at publish (the seven indexes
1.2 s of it); the clusters step's UPDATE of every row 7.4 / 5.7 / 7.9 s before, 1.2 /
1.2 / 0.9 s after; the refresh backend's own CPU 42.8 / 43.8 / 42.9 s before, 30.6 /
31.1 / 36.1 s after.

The swap (drop the old table, rename the new one and its constraints and indexes to
the names the migrations gave) happens in :func:`swap_in_traits_build`, the refresh
transaction's last step: until then readers see the old rows, and the estimate sample
is copied from the build table. Dropping the old table also drops its foreign key's
triggers on ``profiles``, which takes an ACCESS EXCLUSIVE lock on ``profiles`` (checked
on PostgreSQL 15) until the commit: every reader of ``profiles`` waits for that moment,
and the swap itself waits for any transaction already reading them. The
fresh table's columns follow the live table's own order (read from the catalog:
migration 0008 added two columns after the value columns, so it differs from the
model's), each cast to its type and declared NOT NULL as the model says.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Column, MetaData, Select, Table, cast, func, null, select, text
from sqlalchemy.sql import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.traits.models import ProfileTraits
from endcap.traits.spend_table import CreateTableAs

TRAITS = table_of(ProfileTraits)
TRAITS_BUILD: Final = "profile_traits_build"
# The names migration 0003 gave (the models name them the same way).
PRIMARY_KEY: Final = "pk_profile_traits"
FOREIGN_KEY: Final = "fk_profile_traits_profile_id_profiles"
# Each secondary index's name and its column.
INDEXES: Final = tuple(
    sorted((str(index.name), next(iter(index.columns)).name) for index in TRAITS.indexes)
)
_LIVE_COLUMNS: Final = (
    "SELECT attname FROM pg_attribute WHERE attrelid = 'profile_traits'::regclass"
    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)
_NOT_NULL: Final = f"ALTER TABLE {TRAITS_BUILD} " + ", ".join(
    f"ALTER COLUMN {c.name} SET NOT NULL" for c in TRAITS.columns if not c.nullable
)
_INDEX: Final = (
    f"ALTER TABLE {TRAITS_BUILD} ADD CONSTRAINT {TRAITS_BUILD}_pk PRIMARY KEY (profile_id)",
    f"ALTER TABLE {TRAITS_BUILD} ADD CONSTRAINT {TRAITS_BUILD}_fk FOREIGN KEY (profile_id)"
    " REFERENCES profiles (id) ON DELETE CASCADE",
    *(
        f"CREATE INDEX {TRAITS_BUILD}_{column} ON {TRAITS_BUILD} ({column})"
        for _, column in INDEXES
    ),
    f"ANALYZE {TRAITS_BUILD}",
)
_SWAP: Final = (
    "DROP TABLE profile_traits",
    f"ALTER TABLE {TRAITS_BUILD} RENAME TO profile_traits",
    f"ALTER TABLE profile_traits RENAME CONSTRAINT {TRAITS_BUILD}_pk TO {PRIMARY_KEY}",
    f"ALTER TABLE profile_traits RENAME CONSTRAINT {TRAITS_BUILD}_fk TO {FOREIGN_KEY}",
    *(f"ALTER INDEX {TRAITS_BUILD}_{column} RENAME TO {name}" for name, column in INDEXES),
)


def traits_build_table() -> Table:
    """``profile_traits_build`` as SQLAlchemy sees it (the table a full refresh wrote)."""
    return Table(
        TRAITS_BUILD,
        MetaData(),
        *(Column(c.name, c.type, nullable=c.nullable) for c in TRAITS.columns),
    )


async def create_traits_build(session: AsyncSession, query: Select[Any], columns: list[str]) -> int:
    """``profile_traits_build``, index-free, holding ``query``'s rows (its columns are
    ``columns``, ``profile_traits`` columns; the others are NULL); the number of rows."""
    found = query.subquery()
    given = dict(zip(columns, found.c, strict=True))
    live = [str(name) for name in (await session.execute(text(_LIVE_COLUMNS))).scalars()]

    def column(name: str) -> ColumnElement[Any]:
        value = given[name] if name in given else null()
        return cast(value, TRAITS.c[name].type).label(name)

    await session.execute(
        CreateTableAs(TRAITS_BUILD, select(*(column(name) for name in live)), unlogged=False)
    )
    await session.execute(text(_NOT_NULL))
    counted = select(func.count()).select_from(traits_build_table())
    return int((await session.execute(counted)).scalar_one())


async def index_traits_build(session: AsyncSession) -> None:
    """The build table's primary key, foreign key and indexes (named for the build table
    until the swap), and its statistics."""
    for statement in _INDEX:
        await session.execute(text(statement))


async def swap_in_traits_build(session: AsyncSession) -> None:
    for statement in _SWAP:
        await session.execute(text(statement))
