"""Trait refresh at 100k and 1M profiles on PostgreSQL, next to the same aggregation in DuckDB.

Run from the repository root (needs PostgreSQL at ``ENDCAP_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``, and the ``duckdb`` dev extra)::

    .venv/bin/python -m tests.perf.bench_traits [--profiles 100000 1000000] [--keep-files DIR]
        [--keep-db] [--refreshes 1] [--explain] [--duckdb-threads 0 1] [--db-prefix NAME]

For each size it generates a synthetic retailer (``endcap.synthetic.generate``, 30 lines
per profile per year: about 3M lines at 100k profiles and 30M at 1M), creates a throwaway
database, migrates it, and loads products, stores, customers, identifiers and transactions
through ``IngestService`` as ``endcap ingest`` does (one process per file; timed, but not
the subject). After a ``VACUUM (ANALYZE)`` of the loaded tables (timed apart: the hint
bits and visibility map a first reader would otherwise set), it times, in a fresh process:

  refresh    ``TraitsService(session, work_mem_mb, ...).refresh()`` in one transaction,
             committed: its own ``seconds`` per step (traits, spend, value, clusters),
             and the sub-steps inside each, timed by wrapping the repository methods and
             the value/cluster functions in that process (``src`` is not changed). The
             ``as_of`` look-up (``max(occurred_at)``) comes before the first step and is
             shown apart; so are the DELETE and each INSERT ... SELECT of the traits
             and spend steps (the four roll-ups one by one). ``--refreshes 2`` runs a
             second refresh over the first one's rows (the steady state), and
             ``--explain`` then shows EXPLAIN (ANALYZE, BUFFERS) of each of those INSERTs
             (run once more in a transaction that is rolled back).

The baseline is the same aggregation in DuckDB (fresh process, on-disk DuckDB file) over
the same data in Parquet: the transactions CSV with each line's ``profile_id`` (the
customers -> profile mapping exported from the database after key-chain resolution, joined
once while writing the Parquet, as the transactions table holds ``profile_id`` too), and
the products, brands and manufacturers exported from the database (so brand keys are the
same ids). It computes the per-profile traits (baskets, spend, units, mean basket,
online and promo share over 52 weeks as of the latest purchase; baskets and mean basket
over all history, which Endcap's traits step computes for the value models) and the per profile x
department / category / brand / manufacturer spend and units over 4, 13 and 52 weeks the
same way (per profile and SKU once, then rolled up), into DuckDB tables. The ratio is Endcap's
traits + spend seconds over DuckDB's (goal in issue 4: within 3x); DuckDB runs with all
cores (``--duckdb-threads 0``) and with one (PostgreSQL runs ``INSERT ... SELECT`` on one
core), and both ratios are printed.

Two floors follow the refresh, each in a transaction that is rolled back. Storing: the
finished spend rows copied and given profile_spend's two indexes, with no aggregation.
Aggregating: the refresh's own traits and spend aggregates, with the refresh's memory and
parallel settings, each counted as whole rows (nothing sorted, nothing stored; the roll-ups
read the per-place table, which is built for them). The second is what aggregating costs
in PostgreSQL, whatever layout a refresh stores: its ratio to DuckDB is a bound on any
layout's.

The value and cluster steps have no SQL counterpart; they are reported apart, next to the
same numerical code (``endcap.traits.clv`` fits, predictions and tiers, and
``endcap.traits.clusters.cluster``) run on DuckDB's arrays: the difference is what the
database round trips (rows to Python, per-row timestamp conversion, COPY + UPDATE of
``profile_traits``) cost.

Checks: every traits and spend total (rows, baskets, spend, units; per level for spend) must
be equal in both, exactly (decimals); a sample of profiles must have the same rows (shares
within 1e-9, mean basket within a cent); the BG/NBD and Gamma-Gamma parameters fitted on
DuckDB's inputs must match Endcap's.

Peak RSS is ``ru_maxrss`` of each step's own process, next to its RSS after imports. The
refresh's PostgreSQL backend and its parallel workers hold their sorts and hash tables in
their own memory, so the refresh also reports (memory_peaks.py, sampled every 0.1 s) the
peak private memory of those, of its own process, and of both at one sample, per step and
per statement: the last is what the goal (at most 2 GiB) is read against. ``--keep-db``
leaves the last database in place (its URL is printed) for ``tests.perf.bench_estimate
--database URL``; drop it by hand afterwards. The machines are small and noisy: read the
ratios, not the absolute numbers. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import shutil
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
from sqlalchemy import text

from endcap.db import migrate
from endcap.db.session import standalone_session
from endcap.traits.models import COVERED
from endcap.traits.spend_table import BUILD, INDEX_MEMORY_MB
from tests.perf.bench_ingest import (
    Phases,
    asyncpg_dsn,
    check_disk,
    checkpoint,
    describe_load,
    endcap_load,
    fetch_sql,
    in_child,
    mib,
    own_cpu,
    peak_rss_kib,
    postgres_data_dir,
    print_facts,
    settings_for,
    synthetic_files,
    vm_kib,
    workdir,
)
from tests.perf.launcher import cpu_seconds, host_busy
from tests.perf.memory_peaks import MemoryPeaks
from tests.support import databases

LINES_PER_PROFILE_YEAR = 30.0
ENTITIES = ("products", "stores", "customers", "identifiers", "transactions")
# Rough bytes per profile (~32 lines): ~2,900 of CSV; in the database the transactions with
# their two indexes, ~60 spend rows with two indexes, the per-SKU temporary table and WAL;
# the Parquet files and the DuckDB file are small next to those.
CSV_BYTES_PER_PROFILE = 3_000
DB_BYTES_PER_PROFILE = 25_000
DUCKDB_BYTES_PER_PROFILE = 4_000
WINDOWS = (4, 13, 52)
SAMPLE_PROFILES = 300
CHECK_TABLES = ("transactions", "profile_traits", "profile_spend")


# -- the Endcap refresh, in a child ---------------------------------------------------------


class StepPhases(Phases):
    """Phases whose names may say which refresh step they ran in (``{step}``)."""

    step = "?"
    statement: str | None = None  # the labelled statement running now (time_statements)

    def add(self, name: str, seconds: float) -> None:
        super().add(name.replace("{step}", self.step), seconds)

    def mark(self, owner: Any, attr: str, step: str) -> None:
        """Calls of ``owner.attr`` (async) set the step the phases inside it belong to."""
        original = getattr(owner, attr)
        phases = self

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            phases.step = step
            try:
                return await original(*args, **kwargs)
            finally:
                phases.step = "?"

        setattr(owner, attr, wrapper)


REFRESH_PHASES: tuple[tuple[str, str, str], ...] = (
    # (module or class path, attribute, phase name); order is the print order
    ("repository.TraitsRepository", "latest_purchase", "as_of: max(occurred_at), before the steps"),
    ("repository.TraitsRepository", "_spend_per_sku", "spend: per profile x SKU temp table"),
    ("repository.TraitsRepository", "rfm_inputs", "value: rfm_inputs (SQL, rows to Python)"),
    ("value", "_weeks", "value: timestamps to weeks (per row)"),
    ("clv", "fit_bgnbd", "value: fit BG/NBD"),
    ("clv", "fit_gamma_gamma", "value: fit Gamma-Gamma"),
    ("clv", "probability_alive", "value: predict + tiers"),
    ("clv", "expected_transactions", "value: predict + tiers"),
    ("clv", "expected_average_value", "value: predict + tiers"),
    ("clv", "assign_value_tiers", "value: predict + tiers"),
    ("value", "update_from_rows", "{step}: update_from_rows (COPY + UPDATE)"),
    ("repository.TraitsRepository", "clustering_inputs", "clusters: inputs (SQL, rows to Python)"),
    ("value", "cluster", "clusters: k-means + silhouette (sklearn)"),
    ("repository.ClusterRepository", "category_spend", "clusters: top categories (SQL)"),
    ("repository.ClusterRepository", "summaries", "clusters: summaries (SQL)"),
    ("repository.ClusterRepository", "replace", "clusters: replace value_clusters"),
)


# The statements each SQL step of a full refresh sends through the session, in order
# (repository.py, spend_table.py): their own timings.
STATEMENTS: dict[str, tuple[str | None, ...]] = {
    "traits": (
        "traits: the live table's column order (catalog)",
        "traits: the aggregate (CREATE TABLE AS)",
        "traits: SET NOT NULL on the build table",
        "traits: rows (count)",
    ),
    "spend": (
        "spend: key ranks (two small tables, ANALYZEd)",
        "spend: key ranks (two small tables, ANALYZEd)",
        "spend: key ranks (two small tables, ANALYZEd)",
        "spend: key ranks (two small tables, ANALYZEd)",
        *(None,) * 5,  # a parallel plan and its memory (db/parallel.py): read, then set
        "spend: per profile x catalog place (CREATE UNLOGGED TABLE AS)",
        "spend: ANALYZE the per-place table",
        *(None,) * 5,  # the settings put back; the roll-ups' memory: read, then set
        "spend: the four roll-ups, in key order (CREATE TABLE AS)",
        "spend: SET NOT NULL on the build table",
        "spend: rows per level (count)",
        None,  # work_mem put back
        "spend: DROP the work tables",
        None,  # maintenance_work_mem
        "spend: primary key of the build table",
        "spend: profile_id index of the build table",
        "spend: ANALYZE the build table",
    ),
    # The spend table's swap, then (after the sample) the traits build table's keys and
    # indexes and its swap (traits_table.py).
    "publish": (
        *("publish: swap the spend table (drop, renames)",) * 4,
        "publish: traits primary key",
        "publish: traits foreign key (validated)",
        *("publish: traits secondary indexes",) * 7,
        "publish: ANALYZE the traits build table",
        *("publish: swap the traits table (drop, renames)",) * 11,
    ),
}


def time_statements(phases: StepPhases) -> None:
    """Time each statement the traits and spend steps execute, labelled by its position."""
    from sqlmodel.ext.asyncio.session import AsyncSession  # noqa: PLC0415

    original = AsyncSession.execute
    sent: dict[str, int] = {}

    @functools.wraps(original)
    async def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        labels = STATEMENTS.get(phases.step)
        if labels is None:
            return await original(self, *args, **kwargs)
        index = sent.get(phases.step, 0)
        sent[phases.step] = index + 1
        label = labels[index] if index < len(labels) else f"{phases.step}: other statements"
        started = time.perf_counter()
        phases.statement = label
        try:
            return await original(self, *args, **kwargs)
        finally:
            phases.statement = None
            if label is not None:
                phases.add(label, time.perf_counter() - started)

    AsyncSession.execute = execute  # type: ignore[method-assign]


def phase_name(attr: str) -> str:
    return next(name for _, a, name in REFRESH_PHASES if a == attr)


def instrument_refresh(phases: StepPhases) -> None:
    from endcap.traits import clv, repository, service, value  # noqa: PLC0415

    modules: dict[str, Any] = {"clv": clv, "value": value, "repository": repository}
    for path, attr, name in REFRESH_PHASES:
        owner = modules[path.split(".")[0]]
        for part in path.split(".")[1:]:
            owner = getattr(owner, part)
        phases.wrap(owner, attr, name)
    phases.mark(repository.TraitsRepository, "rebuild_profile_traits", "traits")
    phases.mark(repository.TraitsRepository, "rebuild_spend", "spend")
    phases.mark(repository.TraitsRepository, "publish_spend", "publish")
    phases.mark(repository.TraitsRepository, "publish_traits", "publish")
    time_statements(phases)
    phases.mark(service, "score_value", "value")
    phases.mark(service, "assign_clusters", "clusters")


def refresh_in_child(
    url: str, work_mem_mb: int, statement_memory_mb: int | None = None
) -> dict[str, Any]:
    return asyncio.run(_refresh(url, work_mem_mb, statement_memory_mb))


async def _refresh(url: str, work_mem_mb: int, statement_memory_mb: int | None) -> dict[str, Any]:
    from endcap.traits.service import RefreshMode, TraitsService  # noqa: PLC0415

    phases = StepPhases()
    instrument_refresh(phases)
    settings = settings_for(url)
    rss_start = vm_kib("VmRSS")
    busy0, cpu0 = host_busy(), own_cpu()
    started = time.perf_counter()
    async with standalone_session(settings.database) as session:
        backend = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        backend_cpu0 = cpu_seconds(backend)
        refreshing = time.perf_counter()
        with MemoryPeaks(backend, lambda: phases.statement or phases.step) as memory:
            # FULL: in AUTO mode a second refresh finds nothing changed and keeps every row.
            service = TraitsService(
                session,
                work_mem_mb,
                statement_memory_mb=statement_memory_mb
                or settings.database.batch_statement_memory_mb,
            )
            report = await service.refresh(mode=RefreshMode.FULL)
        refreshed = time.perf_counter()
        backend_cpu = cpu_seconds(backend) - backend_cpu0
    finished = time.perf_counter()
    cpu, busy1 = own_cpu() - cpu0, host_busy()
    return {
        "seconds": finished - started,
        "refresh_seconds": refreshed - refreshing,
        "commit_seconds": finished - refreshed,
        "cpu_seconds": cpu,
        "backend_cpu_seconds": backend_cpu,
        "host_busy": (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9),
        "rss_start_kib": rss_start,
        "peak_rss_kib": peak_rss_kib(),
        "memory": memory.as_dict(),
        "phases": phases.as_dict(),
        "report": report.model_dump(mode="json"),
    }


# -- where the SQL steps spend their time: EXPLAIN ANALYZE, in a child --------------------


def explain_in_child(url: str, work_mem_mb: int) -> list[dict[str, Any]]:
    return asyncio.run(_explain(url, work_mem_mb))


async def _explain(url: str, work_mem_mb: int) -> list[dict[str, Any]]:
    """The traits and spend steps again, each INSERT ... SELECT and CREATE TABLE AS run as
    EXPLAIN (ANALYZE, BUFFERS) (which executes it), in a transaction that is rolled back."""
    from sqlalchemy.sql.dml import Insert  # noqa: PLC0415
    from sqlmodel.ext.asyncio.session import AsyncSession  # noqa: PLC0415

    from endcap.db.bulk import batch_memory, no_jit  # noqa: PLC0415
    from endcap.db.engine import create_engine, create_session_factory  # noqa: PLC0415
    from endcap.traits.repository import TraitsRepository  # noqa: PLC0415
    from endcap.traits.spend_table import CreateTableAs  # noqa: PLC0415

    plans: list[dict[str, Any]] = []
    original = AsyncSession.execute

    async def execute(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        creates = isinstance(statement, CreateTableAs)  # EXPLAIN ANALYZE creates it too
        if not creates and (not isinstance(statement, Insert) or statement.select is None):
            return await original(self, statement, *args, **kwargs)
        compiled = statement.compile(
            dialect=self.bind.dialect, compile_kwargs={"render_postcompile": True}
        )
        params = [compiled.params[name] for name in compiled.positiontup or ()]
        connection = await self.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        started = time.perf_counter()
        rows = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + compiled.string, *params)
        plans.append(
            {
                "into": statement.name if creates else statement.table.name,
                "seconds": time.perf_counter() - started,
                "plan": [r[0] for r in rows],
            }
        )
        return SimpleNamespace(rowcount=0)

    AsyncSession.execute = execute  # type: ignore[method-assign]
    engine = create_engine(settings_for(url).database)
    try:
        async with create_session_factory(engine)() as session:
            await batch_memory(session, work_mem_mb)
            await no_jit(session)  # as TraitsService.refresh does
            repository = TraitsRepository(session)
            as_of = await repository.latest_purchase()
            if as_of is not None:
                await repository.rebuild_profile_traits(as_of)
                await repository.rebuild_spend(as_of)
            await session.rollback()
    finally:
        await engine.dispose()
    return plans


def print_plans(plans: list[dict[str, Any]]) -> None:
    print(
        "  EXPLAIN (ANALYZE, BUFFERS) of each INSERT ... SELECT and CREATE TABLE AS of the"
        " traits and spend steps"
        " (run again after the timed refresh, rolled back):"
    )
    for found in plans:
        print(f"\n  -- into {found['into']}: {found['seconds']:.1f} s")
        for line in found["plan"]:
            print(f"    {line}")


# -- database facts and checks, from this process -------------------------------------------


async def _execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def vacuum_analyze(url: str) -> float:
    started = time.perf_counter()
    asyncio.run(
        _execute(
            url,
            "VACUUM (ANALYZE) transactions, products, brands, manufacturers, customers, profiles",
        )
    )
    return time.perf_counter() - started


def relation_sizes(url: str) -> dict[str, int]:
    rows = asyncio.run(
        fetch_sql(
            url,
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
            " WHERE relname = ANY($1) AND relkind = 'r'",
            list(CHECK_TABLES),
        )
    )
    return {r[0]: int(r[1]) for r in rows}


def temp_bytes(url: str) -> tuple[int, int]:
    rows = asyncio.run(
        fetch_sql(
            url,
            "SELECT temp_files, temp_bytes FROM pg_stat_database"
            " WHERE datname = current_database()",
        )
    )
    return int(rows[0][0]), int(rows[0][1])


# Storing the spend rows alone, with no aggregation: a copy of the refreshed profile_spend
# (already in its key's order) written as the refresh writes its build table, then its two
# indexes; rolled back. What any refresh that keeps this layout pays at least.
FLOOR_STATEMENTS: tuple[tuple[str, str], ...] = (
    ("copy (CREATE TABLE AS)", "CREATE TABLE spend_floor AS SELECT * FROM profile_spend"),
    (
        "primary key",
        "ALTER TABLE spend_floor ADD PRIMARY KEY (level, key, profile_id)"
        f" INCLUDE ({', '.join(COVERED)})",
    ),
    ("profile_id index", "CREATE INDEX spend_floor_profile_id ON spend_floor (profile_id)"),
)


async def _storing_floor(url: str, maintenance_mb: int) -> dict[str, float]:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    seconds: dict[str, float] = {}
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute("SET LOCAL jit = off")
        await conn.execute(f"SET LOCAL maintenance_work_mem = '{maintenance_mb}MB'")
        for name, statement in FLOOR_STATEMENTS:
            started = time.perf_counter()
            await conn.execute(statement)
            seconds[name] = time.perf_counter() - started
    finally:
        await transaction.rollback()
        await conn.close()
    return seconds


def storing_floor(url: str, maintenance_mb: int) -> dict[str, float]:
    return asyncio.run(_storing_floor(url, maintenance_mb))


# -- the aggregation alone, storing nothing: the floor of any layout -----------------------


async def _aggregation_floor(
    url: str, work_mem_mb: int, statement_memory_mb: int
) -> dict[str, float]:
    """The traits and spend steps' aggregates, each first counted (``count`` of the whole
    rows of the query a refresh writes, its ORDER BY dropped: no sort, no rows stored; a
    ``count(*)`` would let the planner skip the unused aggregates), then run as
    the refresh runs it (the roll-ups read the per-place table); rolled back. The counts'
    seconds: what aggregating costs in PostgreSQL whatever a refresh stores."""
    from sqlalchemy import func, literal_column, select  # noqa: PLC0415
    from sqlmodel.ext.asyncio.session import AsyncSession  # noqa: PLC0415

    from endcap.db.bulk import batch_memory, no_jit  # noqa: PLC0415
    from endcap.traits.repository import TraitsRepository  # noqa: PLC0415
    from endcap.traits.spend_table import PER_SKU, CreateTableAs  # noqa: PLC0415
    from endcap.traits.traits_table import TRAITS_BUILD  # noqa: PLC0415

    names = {TRAITS_BUILD: "traits", PER_SKU: "per profile x catalog place", BUILD: "roll-ups"}
    seconds: dict[str, float] = {}
    original = AsyncSession.execute

    @functools.wraps(original)
    async def execute(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(statement, CreateTableAs) and statement.name in names:
            # count(whole row): with count(*) the planner drops the unused aggregates.
            rows = statement.query.order_by(None).subquery("aggregated")
            counted = select(func.count(literal_column("aggregated"))).select_from(rows)
            started = time.perf_counter()
            await original(self, counted)
            seconds[names[statement.name]] = time.perf_counter() - started
        return await original(self, statement, *args, **kwargs)

    AsyncSession.execute = execute  # type: ignore[method-assign]
    settings = settings_for(url)
    async with standalone_session(settings.database) as session:
        await batch_memory(session, work_mem_mb)
        await no_jit(session)
        traits = TraitsRepository(session, statement_memory_mb=statement_memory_mb)
        as_of = await traits.latest_purchase()
        assert as_of is not None
        await traits.rebuild_profile_traits(as_of)
        await traits.rebuild_spend(as_of)
        await session.rollback()
    return seconds


def aggregation_floor(url: str, work_mem_mb: int, statement_memory_mb: int) -> dict[str, float]:
    return asyncio.run(_aggregation_floor(url, work_mem_mb, statement_memory_mb))


TRAIT_TOTALS = (
    "SELECT count(*), sum(baskets_52w), sum(spend_52w), sum(units_52w) FROM profile_traits"
)
SPEND_TOTALS = (
    "SELECT level, count(*), sum(spend_4w), sum(spend_13w), sum(spend_52w), sum(units_4w),"
    " sum(units_13w), sum(units_52w) FROM profile_spend GROUP BY level ORDER BY level"
)
SAMPLE_IDS = "SELECT profile_id FROM profile_traits ORDER BY md5(profile_id::text) LIMIT $1"
SAMPLE_TRAITS = (
    "SELECT profile_id, baskets_52w, spend_52w, units_52w, avg_basket_value, online_share,"
    " promo_share FROM profile_traits WHERE profile_id = ANY($1::bigint[])"
)
SAMPLE_SPEND = (
    "SELECT profile_id, level, key, spend_4w, spend_13w, spend_52w, units_4w, units_13w,"
    " units_52w FROM profile_spend WHERE profile_id = ANY($1::bigint[])"
)


async def _endcap_numbers(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        traits = tuple((await conn.fetch(TRAIT_TOTALS))[0])
        spend = {r[0]: tuple(r[1:]) for r in await conn.fetch(SPEND_TOTALS)}
        ids = [int(r[0]) for r in await conn.fetch(SAMPLE_IDS, SAMPLE_PROFILES)]
        sample_traits = {int(r[0]): tuple(r[1:]) for r in await conn.fetch(SAMPLE_TRAITS, ids)}
        sample_spend = {
            (int(r[0]), r[1], r[2]): tuple(r[3:]) for r in await conn.fetch(SAMPLE_SPEND, ids)
        }
    finally:
        await conn.close()
    return {
        "traits": traits,
        "spend": spend,
        "ids": ids,
        "sample_traits": sample_traits,
        "sample_spend": sample_spend,
    }


EXPORTS = {
    "customers": "SELECT customer_id, profile_id FROM customers",
    "products": "SELECT sku, brand_id, department, category FROM products",
    "brands": "SELECT id, manufacturer_id FROM brands",
    "manufacturers": "SELECT id, name FROM manufacturers",
}


async def _export(url: str, folder: Path) -> dict[str, int]:
    """The dimension tables and the customer -> profile mapping, as CSV files in ``folder``."""
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    counts = {}
    try:
        for name, query in EXPORTS.items():
            status = await conn.copy_from_query(
                query, output=folder / f"{name}.csv", format="csv", header=True
            )
            counts[name] = int(status.split()[-1])
    finally:
        await conn.close()
    return counts


# -- the DuckDB baseline, in a child ---------------------------------------------------------

CSV_TYPES = {
    "transaction_id": "VARCHAR",
    "line_no": "INTEGER",
    "occurred_at": "TIMESTAMPTZ",
    "sku": "VARCHAR",
    "quantity": "DECIMAL(12,3)",
    "sales_value": "DECIMAL(14,2)",
    "customer_id": "VARCHAR",
    "store_id": "VARCHAR",
    "channel": "VARCHAR",
    "discount": "DECIMAL(14,2)",
}
DIMENSION_TYPES = {
    "customers": {"customer_id": "VARCHAR", "profile_id": "BIGINT"},
    "products": {
        "sku": "VARCHAR",
        "brand_id": "BIGINT",
        "department": "VARCHAR",
        "category": "VARCHAR",
    },
    "brands": {"id": "BIGINT", "manufacturer_id": "BIGINT"},
    "manufacturers": {"id": "BIGINT", "name": "VARCHAR"},
}


def _duck_columns(types: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in types.items()) + "}"


def parquet_in_child(folder: str, transactions_csv: str) -> dict[str, Any]:
    """Write the Parquet files the baseline reads (timed, not part of the comparison)."""
    import duckdb  # noqa: PLC0415

    where = Path(folder)
    out: dict[str, Any] = {}
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        started = time.perf_counter()
        for name, types in DIMENSION_TYPES.items():
            con.execute(
                f"COPY (SELECT * FROM read_csv('{where / name}.csv', header = true,"  # noqa: S608
                f" columns = {_duck_columns(types)})) TO '{where / name}.parquet' (FORMAT parquet)"
            )
        con.execute(
            "COPY (SELECT t.*, m.profile_id"  # noqa: S608
            f" FROM read_csv('{transactions_csv}', header = true,"
            f" columns = {_duck_columns(CSV_TYPES)}) t"
            f" LEFT JOIN read_parquet('{where / 'customers'}.parquet') m USING (customer_id))"
            f" TO '{where / 'lines'}.parquet' (FORMAT parquet)"
        )
        out["seconds"] = time.perf_counter() - started
        lines = f"read_parquet('{where / 'lines'}.parquet')"
        counted = con.execute(f"SELECT count(*) FROM {lines}")  # noqa: S608
        out["lines"] = int(counted.fetchone()[0])  # type: ignore[index]
    finally:
        con.close()
    out["bytes"] = sum(p.stat().st_size for p in where.glob("*.parquet"))
    out["peak_rss_kib"] = peak_rss_kib()
    return out


ONLINE = "channel = 'online'"


def _window_sum(value: str, weeks: int) -> str:
    return f"coalesce(sum({value}) FILTER (WHERE occurred_at > $since{weeks}), 0)"


def duckdb_sql(folder: Path) -> dict[str, str]:
    """The baseline statements: the same aggregation as ``TraitsRepository`` in DuckDB SQL."""
    lines = f"read_parquet('{folder / 'lines'}.parquet')"
    products = f"read_parquet('{folder / 'products'}.parquet')"
    brands = f"read_parquet('{folder / 'brands'}.parquet')"
    makers = f"read_parquet('{folder / 'manufacturers'}.parquet')"
    recent = "occurred_at > $since52"
    spend = f"coalesce(sum(sales_value) FILTER (WHERE {recent}), 0)"
    baskets = f"count(DISTINCT transaction_id) FILTER (WHERE {recent})"

    def share(where: str) -> str:
        part = f"coalesce(sum(sales_value) FILTER (WHERE {recent} AND {where}), 0)"
        ratio = f"CAST({part} AS DOUBLE) / CAST({spend} AS DOUBLE)"
        return f"CASE WHEN {spend} > 0 THEN {ratio} ELSE 0 END"

    traits = (
        "CREATE OR REPLACE TABLE profile_traits AS SELECT profile_id,"  # noqa: S608
        " min(occurred_at) AS first_purchase_at, max(occurred_at) AS last_purchase_at,"
        f" {baskets} AS baskets_52w, {spend} AS spend_52w,"
        # Over all history, as Endcap's traits step computes them for the value models.
        " count(DISTINCT transaction_id) AS baskets_total,"
        " round(sum(sales_value) / count(DISTINCT transaction_id), 2) AS mean_basket_value,"
        f" coalesce(sum(quantity) FILTER (WHERE {recent}), 0) AS units_52w,"
        f" CASE WHEN {baskets} > 0 THEN round({spend} / {baskets}, 2) ELSE 0 END"
        " AS avg_basket_value,"
        f" {share(ONLINE)} AS online_share, {share('discount > 0')} AS promo_share"
        f" FROM {lines} WHERE profile_id IS NOT NULL AND occurred_at <= $as_of"
        " GROUP BY profile_id"
    )
    per_sku = (
        "CREATE OR REPLACE TEMP TABLE per_sku AS SELECT profile_id, sku,"  # noqa: S608
        f" {_window_sum('sales_value', 4)} AS spend_4w, {_window_sum('sales_value', 13)}"
        f" AS spend_13w, {_window_sum('sales_value', 52)} AS spend_52w,"
        f" {_window_sum('quantity', 4)} AS units_4w, {_window_sum('quantity', 13)} AS units_13w,"
        f" {_window_sum('quantity', 52)} AS units_52w, max(occurred_at) AS last_purchase_at"
        f" FROM {lines} WHERE profile_id IS NOT NULL AND occurred_at > $since52"
        " AND occurred_at <= $as_of GROUP BY profile_id, sku"
    )
    keys = {
        "department": "p.department",
        "category": "p.category",
        "brand": "CAST(b.id AS VARCHAR)",
        "manufacturer": "m.name",
    }
    rollups = " UNION ALL ".join(
        f"SELECT s.profile_id, '{level}' AS level, {key} AS key, sum(s.spend_4w) AS spend_4w,"  # noqa: S608
        " sum(s.spend_13w) AS spend_13w, sum(s.spend_52w) AS spend_52w,"
        " sum(s.units_4w) AS units_4w, sum(s.units_13w) AS units_13w,"
        " sum(s.units_52w) AS units_52w, max(s.last_purchase_at) AS last_purchase_at"
        f" FROM per_sku s JOIN {products} p ON p.sku = s.sku JOIN {brands} b ON b.id = p.brand_id"
        f" JOIN {makers} m ON m.id = b.manufacturer_id GROUP BY s.profile_id, {key}"
        for level, key in keys.items()
    )
    rfm = (
        "SELECT profile_id, count(*) AS baskets, epoch(min(basket_at)) AS first_at,"  # noqa: S608
        " epoch(max(basket_at)) AS last_at, avg(value) AS mean_value FROM ("
        " SELECT profile_id, transaction_id, min(occurred_at) AS basket_at,"
        " sum(sales_value) AS value"
        f" FROM {lines} WHERE profile_id IS NOT NULL AND occurred_at <= $as_of"
        " GROUP BY profile_id, transaction_id) GROUP BY profile_id ORDER BY profile_id"
    )
    return {
        "as_of": f"SELECT epoch(max(occurred_at)) FROM {lines}",  # noqa: S608
        "traits": traits,
        "per_sku": per_sku,
        "spend": f"CREATE OR REPLACE TABLE profile_spend AS {rollups}",
        "rfm": rfm,
        "clustering": (
            "SELECT profile_id, spend_52w, baskets_52w, avg_basket_value, online_share,"
            " promo_share FROM profile_traits ORDER BY profile_id"
        ),
    }


def duckdb_in_child(
    folder: str, database: str, threads: int, sample_ids: list[int], numeric: bool
) -> dict[str, Any]:
    import duckdb  # noqa: PLC0415

    where = Path(folder)
    statements = duckdb_sql(where)
    rss_start = vm_kib("VmRSS")
    out: dict[str, Any] = {"rss_start_kib": rss_start, "seconds": {}}
    seconds: dict[str, float] = out["seconds"]
    with contextlib.suppress(FileNotFoundError):
        Path(database).unlink()
    con = duckdb.connect(database)
    try:
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        out["threads"] = int(con.execute("SELECT current_setting('threads')").fetchone()[0])  # type: ignore[index]
        started = time.perf_counter()
        as_of_epoch = float(con.execute(statements["as_of"]).fetchone()[0])  # type: ignore[index]
        seconds["as_of"] = time.perf_counter() - started
        as_of = datetime.fromtimestamp(as_of_epoch, UTC)
        params = {"as_of": as_of.isoformat()}
        for weeks in WINDOWS:
            params[f"since{weeks}"] = (as_of - timedelta(weeks=weeks)).isoformat()
        out["as_of"] = as_of.isoformat()

        def run(name: str, sql: str, used: tuple[str, ...]) -> None:
            sql = sql.replace("$as_of", "CAST($as_of AS TIMESTAMPTZ)")
            for weeks in WINDOWS:
                sql = sql.replace(f"$since{weeks}", f"CAST($since{weeks} AS TIMESTAMPTZ)")
            started = time.perf_counter()
            con.execute(sql, {k: params[k] for k in used})
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started

        run("traits", statements["traits"], ("as_of", "since52"))
        run("spend", statements["per_sku"], ("as_of", "since4", "since13", "since52"))
        seconds["spend: per profile x SKU"] = seconds["spend"]
        run("spend", statements["spend"], ())
        con.execute("DROP TABLE per_sku")
        out["rss_after_sql_kib"] = vm_kib("VmRSS")
        out["numbers"] = _duckdb_numbers(con, sample_ids)
        if numeric:
            out["value"] = _duckdb_value(con, statements, params["as_of"], as_of_epoch)
    finally:
        con.close()
    out["peak_rss_kib"] = peak_rss_kib()
    out["database_bytes"] = Path(database).stat().st_size
    return out


def _duckdb_numbers(con: Any, ids: list[int]) -> dict[str, Any]:
    traits = tuple(con.execute(TRAIT_TOTALS).fetchone())
    spend = {r[0]: tuple(r[1:]) for r in con.execute(SPEND_TOTALS).fetchall()}
    traits_sql = SAMPLE_TRAITS.replace("ANY($1::bigint[])", "ANY($ids)")
    spend_sql = SAMPLE_SPEND.replace("ANY($1::bigint[])", "ANY($ids)")
    sample_traits = {
        int(r[0]): tuple(r[1:]) for r in con.execute(traits_sql, {"ids": ids}).fetchall()
    }
    sample_spend = {
        (int(r[0]), r[1], r[2]): tuple(r[3:])
        for r in con.execute(spend_sql, {"ids": ids}).fetchall()
    }
    return {
        "traits": traits,
        "spend": spend,
        "sample_traits": sample_traits,
        "sample_spend": sample_spend,
    }


def _duckdb_value(
    con: Any, statements: dict[str, str], as_of: str, as_of_epoch: float
) -> dict[str, Any]:
    """``score_value`` and ``assign_clusters``' numerical code on DuckDB's arrays."""
    import numpy as np  # noqa: PLC0415

    from endcap.traits import clv  # noqa: PLC0415
    from endcap.traits.clusters import cluster, features  # noqa: PLC0415
    from endcap.traits.value import HORIZON_WEEKS, SMALLEST_VALUE, WEEK_SECONDS  # noqa: PLC0415

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    rfm = con.execute(
        statements["rfm"].replace("$as_of", "CAST($as_of AS TIMESTAMPTZ)"), {"as_of": as_of}
    ).fetchnumpy()
    seconds["value: rfm inputs (SQL to numpy)"] = time.perf_counter() - started
    started = time.perf_counter()
    baskets = np.asarray(rfm["baskets"], dtype=np.float64)
    first = np.asarray(rfm["first_at"], dtype=np.float64) / WEEK_SECONDS
    last = np.asarray(rfm["last_at"], dtype=np.float64) / WEEK_SECONDS
    mean_value = np.maximum(np.asarray(rfm["mean_value"], dtype=np.float64), SMALLEST_VALUE)
    x = baskets - 1
    recency = np.maximum(last - first, 0.0)
    age = np.maximum(as_of_epoch / WEEK_SECONDS - first, recency)
    purchases = clv.fit_bgnbd(x, recency, age)
    seconds["value: fit BG/NBD"] = time.perf_counter() - started
    started = time.perf_counter()
    spend = clv.fit_gamma_gamma(x, mean_value)
    seconds["value: fit Gamma-Gamma"] = time.perf_counter() - started
    started = time.perf_counter()
    alive = clv.probability_alive(purchases.params, x, recency, age)
    expected = clv.expected_transactions(purchases.params, x, recency, age, HORIZON_WEEKS)
    value = expected * clv.expected_average_value(spend.params, x, mean_value)
    tiers = clv.assign_value_tiers(value, alive)
    seconds["value: predict + tiers"] = time.perf_counter() - started
    started = time.perf_counter()
    inputs = con.execute(statements["clustering"]).fetchnumpy()
    seconds["clusters: inputs (SQL to numpy)"] = time.perf_counter() - started
    started = time.perf_counter()
    # profile_traits and the rfm inputs are both ordered by profile_id; the same profiles.
    same_profiles = bool(np.array_equal(inputs["profile_id"], rfm["profile_id"]))
    columns = [
        np.asarray(inputs[c], dtype=np.float64)
        for c in ("spend_52w", "baskets_52w", "avg_basket_value", "online_share", "promo_share")
    ]
    rounded = np.round(value, 2)
    result = cluster(features(*columns, rounded), rounded)
    seconds["clusters: k-means + silhouette (sklearn)"] = time.perf_counter() - started
    p, g = purchases.params, spend.params
    return {
        "seconds": seconds,
        "profiles": len(baskets),
        "same_profiles": same_profiles,
        "bgnbd": {"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b},
        "gamma_gamma": {"p": g.p, "q": g.q, "gamma": g.gamma},
        "tiers": {
            str(t): int(n) for t, n in zip(*np.unique(tiers, return_counts=True), strict=True)
        },
        "k": result.k,
        "silhouette": round(result.silhouette, 4),
    }


# -- comparing ------------------------------------------------------------------------------


def compare(endcap: dict[str, Any], duck: dict[str, Any]) -> list[str]:
    """Differences between Endcap's and DuckDB's numbers (empty: they agree)."""
    problems: list[str] = []
    if tuple(endcap["traits"]) != tuple(duck["traits"]):
        problems.append(f"traits totals: endcap {endcap['traits']} vs duckdb {duck['traits']}")
    for level in sorted(set(endcap["spend"]) | set(duck["spend"])):
        mine, theirs = endcap["spend"].get(level), duck["spend"].get(level)
        if mine != theirs:
            problems.append(f"spend totals at {level}: endcap {mine} vs duckdb {theirs}")
    mismatched = 0
    for profile_id, row in endcap["sample_traits"].items():
        other = duck["sample_traits"].get(profile_id)
        if other is None or not _same_traits(row, other):
            mismatched += 1
            if mismatched <= 3:
                problems.append(f"traits of profile {profile_id}: endcap {row} vs duckdb {other}")
    if mismatched or len(endcap["sample_traits"]) != len(duck["sample_traits"]):
        problems.append(
            f"sample traits: {mismatched} of {len(endcap['sample_traits'])} rows differ"
            f" (duckdb has {len(duck['sample_traits'])})"
        )
    if endcap["sample_spend"] != duck["sample_spend"]:
        keys = set(endcap["sample_spend"]) ^ set(duck["sample_spend"])
        values = [
            k for k in set(endcap["sample_spend"]) & set(duck["sample_spend"])
            if endcap["sample_spend"][k] != duck["sample_spend"][k]
        ]  # fmt: skip
        problems.append(
            f"sample spend rows: {len(keys)} in one only, {len(values)} with other values"
            f" (of {len(endcap['sample_spend'])})"
        )
    return problems


def _same_traits(mine: tuple[Any, ...], theirs: tuple[Any, ...]) -> bool:
    baskets, spend, units, avg_basket, online, promo = mine
    d_baskets, d_spend, d_units, d_avg, d_online, d_promo = theirs
    return (
        int(baskets) == int(d_baskets)
        and Decimal(spend) == Decimal(d_spend)
        and Decimal(units) == Decimal(d_units)
        and abs(float(avg_basket) - float(d_avg)) <= 0.0100001
        and abs(float(online) - float(d_online)) <= 1e-9
        and abs(float(promo) - float(d_promo)) <= 1e-9
    )


def compare_value(endcap_model: dict[str, Any] | None, duck: dict[str, Any]) -> list[str]:
    if not endcap_model or not endcap_model.get("fitted"):
        return [f"endcap value model not fitted: {endcap_model}"]
    problems = []
    for model in ("bgnbd", "gamma_gamma"):
        for name, theirs in duck[model].items():
            mine = float(endcap_model[model][name])
            if abs(mine - theirs) > 1e-4 * max(abs(mine), 1e-9):
                problems.append(f"{model}.{name}: endcap {mine:.6g} vs duckdb inputs {theirs:.6g}")
    if endcap_model["profiles"] != duck["profiles"]:
        problems.append(f"value profiles: endcap {endcap_model['profiles']} vs {duck['profiles']}")
    return problems


# -- one size -------------------------------------------------------------------------------


def run_size(profiles: int, args: argparse.Namespace, outdir: Path) -> dict[str, Any]:
    print(f"\n== {profiles:,} profiles, seed {args.seed} ==", flush=True)
    check_disk(outdir, profiles * (CSV_BYTES_PER_PROFILE + DUCKDB_BYTES_PER_PROFILE), "CSV")
    gen = synthetic_files(outdir, profiles, args.seed, LINES_PER_PROFILE_YEAR, args.timeout)
    if not gen["reused"]:
        print(
            f"  generated in {gen['seconds']:.1f} s: "
            + ", ".join(f"{e} {n:,}" for e, n in gen["rows"].items())
            + f"; transactions.csv {gen['bytes']['transactions'] / 2**20:,.0f} MiB",
            flush=True,
        )
    check_disk(postgres_data_dir(), profiles * DB_BYTES_PER_PROFILE, "the database")
    url = databases.create_postgres_database(args.db_prefix)
    keep = False
    try:
        migrate.upgrade(url)
        loads: dict[str, dict[str, Any]] = {}
        for entity in ENTITIES:
            loads[entity] = endcap_load(url, entity, outdir / f"{entity}.csv", args.timeout)
            print(f"  load {entity:<12} {describe_load(loads[entity])}", flush=True)
        vacuum_seconds = vacuum_analyze(url)
        print(f"  VACUUM (ANALYZE) of the loaded tables: {vacuum_seconds:.1f} s", flush=True)
        refreshes = []
        for attempt in range(args.refreshes):
            checkpoint(url)
            temp0 = temp_bytes(url)
            done: dict[str, Any] = in_child(
                "refresh",
                args.timeout,
                refresh_in_child,
                url,
                args.work_mem_mb,
                args.statement_memory_mb,
            )
            temp1 = temp_bytes(url)
            done["temp_files"], done["temp_bytes"] = temp1[0] - temp0[0], temp1[1] - temp0[1]
            refreshes.append(done)
            seconds = done["report"]["seconds"]
            print(
                f"  refresh {attempt + 1}: {done['seconds']:.1f} s end to end; steps "
                + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())
                + f"; peak RSS {mib(done['peak_rss_kib'])} MiB",
                flush=True,
            )
        checkpoint(url)
        floor = storing_floor(url, min(INDEX_MEMORY_MB, args.statement_memory_mb))
        print(
            f"  storing the spend rows alone: {sum(floor.values()):.1f} s ("
            + ", ".join(f"{k} {v:.1f}" for k, v in floor.items())
            + ")",
            flush=True,
        )
        aggregating = in_child(
            "aggregation floor",
            args.timeout,
            aggregation_floor,
            url,
            args.work_mem_mb,
            args.statement_memory_mb,
        )
        print(
            "  aggregating alone (counted, nothing sorted or stored):"
            f" {sum(aggregating.values()):.1f} s ("
            + ", ".join(f"{k} {v:.1f}" for k, v in aggregating.items())
            + ")",
            flush=True,
        )
        plans: list[dict[str, Any]] = []
        if args.explain:
            plans = in_child("explain", args.timeout, explain_in_child, url, args.work_mem_mb)
        sizes = relation_sizes(url)
        endcap_numbers = asyncio.run(_endcap_numbers(url))
        duck_dir = outdir / "duckdb"
        duck_dir.mkdir(exist_ok=True)
        try:
            exported = asyncio.run(_export(url, duck_dir))
            parquet: dict[str, Any] = in_child(
                "parquet",
                args.timeout,
                parquet_in_child,
                str(duck_dir),
                str(outdir / "transactions.csv"),
            )
            print(
                f"  Parquet for DuckDB: {parquet['lines']:,} lines + dimensions"
                f" ({', '.join(f'{k} {v:,}' for k, v in exported.items())})"
                f" in {parquet['seconds']:.1f} s, {parquet['bytes'] / 2**20:,.0f} MiB",
                flush=True,
            )
            ducks = []
            for position, threads in enumerate(args.duckdb_threads):
                duck: dict[str, Any] = in_child(
                    f"duckdb threads={threads}",
                    args.timeout,
                    duckdb_in_child,
                    str(duck_dir),
                    str(duck_dir / "bench.duckdb"),
                    threads,
                    endcap_numbers["ids"],
                    position == 0,
                )
                ducks.append(duck)
                s = duck["seconds"]
                print(
                    f"  duckdb threads={duck['threads']}: traits {s['traits']:.1f} s,"
                    f" spend {s['spend']:.1f} s; peak RSS {mib(duck['peak_rss_kib'])} MiB",
                    flush=True,
                )
        finally:
            shutil.rmtree(duck_dir, ignore_errors=True)
        keep = args.keep_db
    finally:
        if keep:
            print(f"  kept the database: {url}")
        else:
            databases.drop_postgres_database(url)
    return {
        "profiles": profiles,
        "url": url if keep else None,
        "generation": gen,
        "loads": loads,
        "vacuum_seconds": vacuum_seconds,
        "refreshes": refreshes,
        "floor": floor,
        "aggregating": aggregating,
        "plans": plans,
        "sizes": sizes,
        "endcap_numbers": endcap_numbers,
        "parquet": parquet,
        "ducks": ducks,
    }


# -- printing -------------------------------------------------------------------------------


def sql_seconds(seconds: dict[str, float]) -> float:
    """traits + spend (+ publish: the fresh tables' traits indexes and swaps, timed apart
    by the refresh; DuckDB has none)."""
    return float(seconds["traits"]) + float(seconds["spend"]) + float(seconds.get("publish", 0))


def print_summary(results: list[dict[str, Any]]) -> None:
    print(
        f"\n{'profiles':>10}{'lines':>12}{'refresh':>8}{'endcap traits':>14}{'spend':>8}"
        f"{'publish':>8}{'sum':>8}{'duckdb traits':>14}{'spend':>8}{'sum':>7}{'ratio':>7}"
        f"{'1-thread':>10}{'ratio':>7}"
        f"{'value':>8}{'clusters':>9}{'RSS MiB':>9}{'+PG MiB':>9}"
    )
    for r in results:
        duck = r["ducks"][0]
        theirs = duck["seconds"]
        one = next((d for d in r["ducks"] if d["threads"] == 1), None)
        one_sum = sql_seconds(one["seconds"]) if one else float("nan")
        for number, refresh in enumerate(r["refreshes"], start=1):
            mine = refresh["report"]["seconds"]
            print(
                f"{r['profiles']:>10,}{r['loads']['transactions']['rows_read']:>12,}{number:>8}"
                f"{mine['traits']:>14.1f}{mine['spend']:>8.1f}{mine.get('publish', 0):>8.1f}"
                f"{sql_seconds(mine):>8.1f}{theirs['traits']:>14.1f}{theirs['spend']:>8.1f}{sql_seconds(theirs):>7.1f}"
                f"{sql_seconds(mine) / sql_seconds(theirs):>7.1f}{one_sum:>10.1f}"
                f"{sql_seconds(mine) / one_sum:>7.1f}{mine['value']:>8.1f}"
                f"{mine['clusters']:>9.1f}{mib(refresh['peak_rss_kib']):>9}"
                f"{mib(max(refresh['memory']['both_kib'].values(), default=0)):>9}"
            )
    print(
        "seconds; ratio = Endcap (traits + spend + publish) / DuckDB (traits + spend), goal <= 3.0;"
        f" the first DuckDB column uses all cores ({results[0]['ducks'][0]['threads']} threads),"
        " '1-thread' one. Refresh 2 replaces the rows refresh 1 wrote (a steady-state refresh)."
        " RSS: peak of the refresh process (goal <= 2,048 MiB); +PG: the peak of that process's"
        " RSS plus its PostgreSQL backend's and parallel workers' private memory, sampled together"
        " (memory_peaks.py)."
    )
    for r in results:
        print_floor(r)
    for r in results:
        print_size(r)


def print_floor(r: dict[str, Any]) -> None:
    """What storing the spend rows alone costs, next to the ratio's goal: the floor of a
    refresh that keeps profile_spend's layout (rows, covering key, profile_id index)."""
    floor = sum(r["floor"].values())
    mine = r["refreshes"][-1]["report"]["seconds"]
    theirs = sql_seconds(r["ducks"][0]["seconds"])
    with_rest = floor + float(mine["traits"]) + float(mine.get("publish", 0))
    print(
        f"{r['profiles']:,} profiles: storing the spend rows alone (copy, key, index; no"
        f" aggregation) takes {floor:.1f} s = {floor / theirs:.1f}x DuckDB's whole aggregation;"
        f" with the traits step and publish {with_rest:.1f} s = {with_rest / theirs:.1f}x;"
        f" the spend step's aggregation itself {float(mine['spend']) - floor:.1f} s."
    )
    aggregating = sum(r["aggregating"].values())
    both = aggregating + with_rest
    print(
        f"{r['profiles']:,} profiles: aggregating alone in PostgreSQL (the refresh's traits and"
        f" spend aggregates counted, nothing sorted or stored) takes {aggregating:.1f} s ="
        f" {aggregating / theirs:.1f}x DuckDB's whole aggregation, which stores its tables;"
        f" with storing as above {both:.1f} s = {both / theirs:.1f}x."
    )


def print_size(r: dict[str, Any]) -> None:
    print(f"\n-- {r['profiles']:,} profiles --")
    for entity, load in r["loads"].items():
        print(f"  load {entity:<13}{describe_load(load)}")
    print(f"  VACUUM (ANALYZE) after the loads: {r['vacuum_seconds']:.1f} s")
    for number, refresh in enumerate(r["refreshes"], start=1):
        print_refresh(number, refresh)
    if r["plans"]:
        print_plans(r["plans"])
    sizes = ", ".join(f"{name} {size / 2**30:.2f} GiB" for name, size in r["sizes"].items())
    print(f"  sizes after (with indexes): {sizes}")
    report = r["refreshes"][-1]["report"]
    print(f"  spend rows: {report['spend_rows']} = {sum(report['spend_rows'].values()):,}")
    print(f"  value model: {report['value_model']}")
    print(f"  clusters: {report['clusters']}")
    for duck in r["ducks"]:
        s = duck["seconds"]
        print(
            f"  duckdb threads={duck['threads']}: as_of {s['as_of']:.2f} s, traits"
            f" {s['traits']:.2f} s, spend {s['spend']:.2f} s (per profile x SKU"
            f" {s['spend: per profile x SKU']:.2f} s, roll-ups"
            f" {s['spend'] - s['spend: per profile x SKU']:.2f} s); RSS start"
            f" {mib(duck['rss_start_kib'])} MiB, after SQL {mib(duck['rss_after_sql_kib'])} MiB,"
            f" peak {mib(duck['peak_rss_kib'])} MiB; file {duck['database_bytes'] / 2**20:,.0f} MiB"
        )
    duck = r["ducks"][0]
    problems = compare(r["endcap_numbers"], duck["numbers"])
    value = duck.get("value")
    if value is not None:
        problems += compare_value(report["value_model"], value)
        if not value["same_profiles"]:
            problems.append("duckdb: traits and rfm inputs hold different profiles")
    print(
        f"  check: traits totals (profiles, baskets, spend, units) {r['endcap_numbers']['traits']};"
        " spend totals per level (rows; spend 4w, 13w, 52w; units 4w, 13w, 52w):"
    )
    for level, totals in r["endcap_numbers"]["spend"].items():
        print(f"    {level:<13}{totals}")
    print(
        f"    sample: {len(r['endcap_numbers']['sample_traits'])} profiles,"
        f" {len(r['endcap_numbers']['sample_spend'])} spend rows;"
        f" {'ALL EQUAL in DuckDB' if not problems else 'DIFFERENCES:'}"
    )
    for problem in problems:
        print(f"    {problem}")
    if value is not None:
        refresh = r["refreshes"][-1]
        print_value_baseline(refresh, value)


def print_refresh(number: int, refresh: dict[str, Any]) -> None:
    total = refresh["seconds"]
    steps = refresh["report"]["seconds"]
    phases = refresh["phases"]
    print(
        f"  refresh {number}: {total:,.1f} s end to end (refresh {refresh['refresh_seconds']:.1f} s"
        f", commit {refresh['commit_seconds']:.1f} s); process cpu"
        f" {refresh['cpu_seconds'] / total:.0%}, its PostgreSQL backend"
        f" {refresh['backend_cpu_seconds'] / total:.0%}, host {refresh['host_busy']:.0%};"
        f" RSS start {mib(refresh['rss_start_kib'])} MiB, peak {mib(refresh['peak_rss_kib'])} MiB;"
        f" PostgreSQL temp files {refresh['temp_files']} ({refresh['temp_bytes'] / 2**20:,.0f} MiB)"
    )
    names: list[str] = [label for label in STATEMENTS["traits"] if label]
    names += [phase_name("_spend_per_sku")]
    names += [label for label in STATEMENTS["spend"] if label]
    names += [label for label in STATEMENTS["publish"] if label]
    for _, _, name in REFRESH_PHASES:
        for step in ("value", "clusters") if "{step}" in name else ("",):
            if name.replace("{step}", step) not in names:
                names.append(name.replace("{step}", step))
    seen: set[str] = set()
    timed = phases["seconds"]
    as_of_name = phase_name("latest_purchase")
    if as_of_name in timed:
        print(f"    {as_of_name:<52}{timed[as_of_name]:>9.2f} s")
        seen.add(as_of_name)
    for step, step_seconds in steps.items():
        print(f"    {step + ' (the report)':<52}{step_seconds:>9.2f} s{step_seconds / total:>7.1%}")
        inside = 0.0
        for name in names:
            if name in timed and name.startswith(step + ":") and name not in seen:
                seen.add(name)
                inside += timed[name]
                print(f"      {name:<50}{timed[name]:>9.2f} s  {phases['calls'][name]}x")
        rest = f"{step}: other (temporary tables, Python glue)"
        print(f"      {rest:<50}{step_seconds - inside:>9.2f} s")
    if phases["missing"]:
        print(f"    (not found, so not timed: {', '.join(phases['missing'])})")
    print_memory(refresh["memory"])


def print_memory(memory: dict[str, dict[str, int]]) -> None:
    """Per step (and labelled statement): peak private memory of the backend and its
    parallel workers, of this process, and of both at one sample (MiB)."""
    print(f"    {'memory peaks, MiB':<52}{'PostgreSQL':>11}{'workers':>8}{'process':>9}{'both':>7}")
    for step, both in memory["both_kib"].items():
        print(
            f"      {step:<50}{mib(memory['backend_kib'][step]):>11}{memory['workers'][step]:>8}"
            f"{mib(memory['process_kib'][step]):>9}{mib(both):>7}"
        )


def print_value_baseline(refresh: dict[str, Any], value: dict[str, Any]) -> None:
    steps = refresh["report"]["seconds"]
    timed = refresh["phases"]["seconds"]
    print(
        "  value and clusters, Endcap vs the same numerical code on DuckDB's arrays"
        f" (k={value['k']}, silhouette {value['silhouette']}; tiers {value['tiers']}):"
    )
    mine = {
        "inputs": timed.get(phase_name("rfm_inputs"), 0.0) + timed.get(phase_name("_weeks"), 0.0),
        "fits": timed.get("value: fit BG/NBD", 0.0) + timed.get("value: fit Gamma-Gamma", 0.0),
        "predict": timed.get("value: predict + tiers", 0.0),
        "store": timed.get("value: update_from_rows (COPY + UPDATE)", 0.0),
        "cluster inputs": timed.get(phase_name("clustering_inputs"), 0.0),
        "k-means": timed.get(phase_name("cluster"), 0.0),
    }
    theirs = value["seconds"]
    rows = (
        ("value: inputs", mine["inputs"], theirs["value: rfm inputs (SQL to numpy)"]),
        ("value: fits", mine["fits"], _sum_of(theirs, "value: fit")),
        ("value: predict + tiers", mine["predict"], theirs["value: predict + tiers"]),
        ("value: store (update_from_rows)", mine["store"], 0.0),
        ("value (the report)", steps["value"], _sum_of(theirs, "value:")),
        ("clusters: inputs", mine["cluster inputs"], theirs["clusters: inputs (SQL to numpy)"]),
        ("clusters: k-means", mine["k-means"], theirs["clusters: k-means + silhouette (sklearn)"]),
        ("clusters (the report)", steps["clusters"], _sum_of(theirs, "clusters:")),
    )  # fmt: skip
    print(f"    {'':<34}{'endcap s':>10}{'duckdb+numpy s':>16}")
    for name, mine, theirs in rows:
        print(f"    {name:<34}{mine:>10.2f}{theirs:>16.2f}")


def _sum_of(seconds: dict[str, float], step: str) -> float:
    return sum(v for k, v in seconds.items() if k.startswith(step))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--profiles", type=int, nargs="+", default=[100_000, 1_000_000], help="sizes to run"
    )
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument(
        "--keep-files",
        type=Path,
        default=None,
        metavar="DIR",
        help="generate into DIR/traits-<profiles>-seed<seed> and keep (reused by a later run)",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="leave the databases (for bench_estimate)"
    )
    parser.add_argument(
        "--refreshes", type=int, default=1, help="refreshes in a row (the 2nd replaces the 1st)"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="after the refresh, EXPLAIN ANALYZE each INSERT ... SELECT of traits and spend",
    )
    parser.add_argument(
        "--work-mem-mb",
        type=int,
        default=None,
        help="TraitsService work_mem (default: the batch_work_mem_mb setting)",
    )
    parser.add_argument(
        "--statement-memory-mb",
        type=int,
        default=None,
        help="what one parallel statement may hold (default: batch_statement_memory_mb)",
    )
    parser.add_argument(
        "--duckdb-threads",
        type=int,
        nargs="+",
        default=[0, 1],
        help="DuckDB runs; 0 = its default (all cores); the first also runs the value baseline",
    )
    parser.add_argument(
        "--db-prefix",
        default="endcap_bench_traits",
        help="name prefix of the throwaway database (machines shared by several runs)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds any one step may take"
    )
    args = parser.parse_args(argv)
    database = settings_for(databases.POSTGRES_ADMIN_URL).database
    if args.work_mem_mb is None:
        args.work_mem_mb = database.batch_work_mem_mb
    if args.statement_memory_mb is None:
        args.statement_memory_mb = database.batch_statement_memory_mb
    print_facts(("duckdb", "scikit-learn", "scipy"))
    print(
        f"refresh work_mem: {args.work_mem_mb} MB, at most {args.statement_memory_mb} MB per"
        f" parallel statement; DuckDB threads runs: {args.duckdb_threads}"
    )
    results = []
    for profiles in args.profiles:
        with workdir(args.keep_files, f"traits-{profiles}-seed{args.seed}") as outdir:
            results.append(run_size(profiles, args, outdir))
    print_summary(results)


if __name__ == "__main__":
    main()
