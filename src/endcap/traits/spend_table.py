"""A full refresh of ``profile_spend`` on PostgreSQL: build a fresh table, then swap it in.

Tens of millions of spend rows inserted one by one into a table with two
B-tree indexes spend most of their time maintaining those indexes (and
writing them to the WAL). A fresh table without indexes takes the rows at
heap speed; its indexes are then built once, by sorting, which is several
times cheaper. The swap (drop the old table, rename the new one and its
indexes to the names the migrations gave) happens last in the refresh
transaction, so readers see the old rows until the commit and wait only for
the moment of the swap. The names are fixed: two full refreshes at once would
collide on them, and the second would fail rather than interleave.

The fresh table itself is made by one CREATE TABLE AS over the four roll-ups
(UNION ALL): PostgreSQL 15 never plans the SELECT of an INSERT in parallel, but
plans this one as a Parallel Append, each roll-up in its own worker (measured at
100k profiles on two busy cores: 18.5 s instead of 25.3 s for four INSERTs). Its
columns are cast to ``profile_spend``'s types, in its order, and then declared NOT
NULL (one scan), so the swapped-in table is the one the migrations made.

Each roll-up's decimals (the casts of the whole cents), level and key are computed in
its branch, below the sort, so in the parallel workers; the leader, one process, only
merges the workers' sorted rows and writes them (full_spend.ranked_roll_ups). Before,
the leader also joined every row to its key and converted its six sums, after the
merge. Measured at 100k profiles with EXPLAIN ANALYZE on the same work tables,
alternately, on two cores busy with another benchmark (load 3.5-4.6): 29.7 / 27.0 s
before, 24.3 / 23.3 s after; in whole refreshes (load 3-5) the roll-ups took 20.4 /
27.7 / 35.8 s before and 18.3 / 26.0 / 25.4 s after. Of what is left, about a quarter
is the leader writing the rows (heap and WAL, one tuple at a time: PostgreSQL 15's
CREATE TABLE AS has no multi-row insert and no parallel writers); the table must stay
logged.

The first sums run in parallel too: partial aggregates in the workers, each over its
sorted share of the lines, merged by the leader. The planner, expecting 2.6M groups where
there are 1.5M, plans them in one process unless parallel plans cost nothing to start and
gather from (db/parallel.py ``parallel_plan``, for that statement only). Measured at 100k
profiles on a quiet machine (load < 1), with JIT off as in a refresh, alternately: 4.4 /
4.8 s in one process, 3.3 / 3.9 / 3.2 s in parallel; at 1M profiles, in whole refreshes
alternated with the code before on the same database (load < 2), 61.5 / 55.4 s before,
31.9 / 29.8 s after. (On a machine busy with another benchmark, an earlier session found no
clear difference at 100k.)

Memory: every process of the roll-ups holds a hash table and a sort at once, so
``work_mem`` is cut for them to keep the statement within its budget (db/parallel.py
``statement_memory``; ``ENDCAP_DATABASE_BATCH_STATEMENT_MEMORY_MB``, 1 GiB by default).
At 100k profiles, with 256 MB per node, the backend and its workers peaked at 1,476 MiB
of private memory; with the 1 GiB budget (113 MB per node) at 1,203 MiB (each process has
some 40 MiB of its own beyond its sorts and hashes), and the spend step took as long,
within the noise. At 1M profiles (the same alternated refreshes): 2,738 / 2,746 MiB before,
1,500 / 1,498 MiB after, with the refresh process's 255 MiB beside them 1,755 MiB in all
(the 2 GiB goal); the roll-ups took 143.4 / 124.7 s before and 117.4 / 110.4 s after, so
the smaller hash tables, spilling more, cost nothing measurable. A sort-based plan for the
roll-ups (GROUP BY rank first, hash aggregates off: each level's partial aggregates sorted
in the workers, then a Merge Append, no final sort) was measured too: 10.2 s against 9.0
at 100k, 105.6 s against 112.7 at 1M; not kept.

The fresh table's rows are written in its primary key's order, so that the key's
build finds them sorted (PostgreSQL's sort checks for presorted input first) instead
of sorting 4M rows by comparing text under the database's collation: every catalog
key gets an integer rank in (level, key) order, from the few thousand products, and
the rows are grouped and sorted by (rank, profile_id), integers only, before they get
their level and key. Only speed depends on the order: the key is built right whatever
it is. Measured at 100k profiles (3M lines) on the same database, alternately, two
rounds each, the machine at a load of ~6 on 2 cores, with parallelism off: the key's
build 24.8 -> 2.9 s, the whole spend step's statements 74.5 -> 37.6 s (CPU of the
backend 25.6 -> 16.3 s); with parallel workers, as a refresh runs, 39.5 -> 29.1 s
(and at a load of ~3, three rounds: 21.8 -> 16.0 s; the first sums 5.2 -> 3.1 s, the
roll-ups 10.3 -> 8.8 s, the key 4.5 -> 1.8 s).

At 1M profiles (30M lines, 37M spend rows; one full refresh, load ~4-6 on 2 cores) the
spend step took 171 s: the first sums 42 s, the roll-ups 98 s, the key 18 s, the
profile_id index 7 s; the hash aggregates and sorts spilled 11.5 GB of temporary files
at a work_mem of 256 MB, which is where the next gain is.

One pass over the purchase lines with GROUP BY GROUPING SETS (one set per level) was
measured too, and is slower: PostgreSQL 15 plans it as four sorts of the 2.7M lines
(a MixedAggregate only with work_mem at 1.5 GB), never in parallel, 14.9 s against
13.0 s for the two passes it would replace.

The first sums the roll-ups read (per profile and place in the catalog) go into
``traits_spend_per_sku``, and the key ranks into ``traits_spend_keys`` and
``traits_spend_sku_keys``: UNLOGGED ordinary tables made by CREATE TABLE AS (a
temporary table lives in the backend's small local buffers, and is never read by
parallel workers). They are created and dropped inside the refresh transaction, so a
refresh that fails or a server that crashes leaves none behind: the CREATE rolls
back. So is the build table.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Column, CompoundSelect, MetaData, Select, Table, cast, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.traits.models import COVERED, ProfileSpend

SPEND = table_of(ProfileSpend)
BUILD: Final = "profile_spend_build"
PER_SKU: Final = "traits_spend_per_sku"
KEYS: Final = "traits_spend_keys"
SKU_KEYS: Final = "traits_spend_sku_keys"
WORK_TABLES: Final = (PER_SKU, KEYS, SKU_KEYS)
# CREATE TABLE AS leaves every column nullable; profile_spend's are all NOT NULL.
_NOT_NULL: Final = "ALTER TABLE profile_spend_build " + ", ".join(
    f"ALTER COLUMN {c.name} SET NOT NULL" for c in SPEND.columns
)
_LEVEL_ROWS: Final = "SELECT level, count(*) FROM profile_spend_build GROUP BY level"
_INDEX: Final = (
    "ALTER TABLE profile_spend_build ADD CONSTRAINT profile_spend_build_pk "
    f"PRIMARY KEY (level, key, profile_id) INCLUDE ({', '.join(COVERED)})",
    "CREATE INDEX profile_spend_build_profile_id ON profile_spend_build (profile_id)",
    "ANALYZE profile_spend_build",
)
_SWAP: Final = (
    "DROP TABLE profile_spend",
    "ALTER TABLE profile_spend_build RENAME TO profile_spend",
    "ALTER TABLE profile_spend RENAME CONSTRAINT profile_spend_build_pk TO pk_profile_spend",
    "ALTER INDEX profile_spend_build_profile_id RENAME TO ix_profile_spend_profile_id",
)
_VACUUM: Final = tuple(
    f"VACUUM (ANALYZE) {table}"
    for table in (
        "profile_spend",
        "profile_traits",
        "profile_spend_sample",
        "profile_traits_sample",
    )
)
# Index builds sort; more memory for this transaction's builds means fewer passes on disk.
INDEX_MEMORY_MB: Final = 512


class CreateTableAs(Executable, ClauseElement):
    """``CREATE [UNLOGGED] TABLE name AS query`` (PostgreSQL may plan the query in parallel)."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any], *, unlogged: bool = True) -> None:
        self.name = name
        self.query = query
        self.unlogged = unlogged


@compiles(CreateTableAs)
def _create_table_as(element: CreateTableAs, compiler: SQLCompiler, **kw: Any) -> str:
    kind = "UNLOGGED TABLE" if element.unlogged else "TABLE"
    return f"CREATE {kind} {element.name} AS {compiler.process(element.query, **kw)}"


async def create_work_table(session: AsyncSession, name: str, query: Select[Any]) -> None:
    """Fill the work table ``name`` (one of :data:`WORK_TABLES`) from ``query`` and give
    the planner its row count (a table made in this transaction has no statistics: the
    roll-ups' hash aggregates would be planned for a few thousand groups)."""
    await session.execute(CreateTableAs(name, query))
    await session.execute(text(f"ANALYZE {name}"))


async def drop_work_tables(session: AsyncSession) -> None:
    await session.execute(text(f"DROP TABLE {', '.join(WORK_TABLES)}"))


def build_columns(rows: Select[Any] | CompoundSelect[Any]) -> Select[Any]:
    """``rows`` (columns named as ``profile_spend``'s) as the build table's columns: in
    ``profile_spend``'s order, each cast to its type."""
    found = rows.subquery()
    return select(*(cast(found.c[c.name], c.type).label(c.name) for c in SPEND.columns))


async def create_build_table(session: AsyncSession, rows: Select[Any]) -> dict[str, int]:
    """``profile_spend_build``, index-free, holding ``rows`` (:func:`build_columns`); the
    number of rows per level."""
    await session.execute(CreateTableAs(BUILD, rows, unlogged=False))
    await session.execute(text(_NOT_NULL))
    counted = await session.execute(text(_LEVEL_ROWS))
    return {str(level): int(count) for level, count in counted.all()}


def build_table() -> Table:
    """``profile_spend_build`` as SQLAlchemy sees it (the table a full refresh wrote)."""
    return Table(
        BUILD,
        MetaData(),
        *(Column(c.name, c.type, nullable=c.nullable) for c in SPEND.columns),
    )


async def index_build_table(session: AsyncSession, budget_mb: int) -> None:
    """The build table's keys; their builds' memory is shared by their parallel workers, and
    kept within ``budget_mb`` (what one statement may hold, db/parallel.py)."""
    await session.execute(
        text("SELECT set_config('maintenance_work_mem', :value, true)"),
        {"value": f"{min(INDEX_MEMORY_MB, budget_mb)}MB"},
    )
    for statement in _INDEX:
        await session.execute(text(statement))


async def swap_in_build_table(session: AsyncSession) -> None:
    for statement in _SWAP:
        await session.execute(text(statement))


async def vacuum_spend(engine: AsyncEngine) -> None:
    """VACUUM (ANALYZE) the spend and traits tables, and the estimate sample's copies, after
    a refresh committed (PostgreSQL).

    It sets the visibility map, without which the covering primary key cannot serve
    index-only scans: at 1M profiles a three-clause estimate takes 0.22 s with it and
    0.84 s without. VACUUM cannot run inside a transaction, hence its own connection.
    """
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in _VACUUM:
            await autocommit.execute(text(statement))
