"""Audience size estimate at 1M profiles: latency of ``estimate_size`` for three-clause rules.

Run from the repository root (needs PostgreSQL at ``ENDCAP_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``)::

    .venv/bin/python -m tests.perf.bench_estimate [--profiles 1000000] [--runs 100]
    .venv/bin/python -m tests.perf.bench_estimate --keep-db [--db-prefix NAME]  # prints its URL
    .venv/bin/python -m tests.perf.bench_estimate --database URL   # or bench_traits --keep-db's

By default it builds the trait tables quickly in a throwaway database (dropped at the
end): the catalog of a synthetic retailer of ``--profiles`` people
(``endcap.synthetic`` catalog, loaded through ``IngestService``), then ``profiles``,
``profile_traits`` and ``profile_spend`` straight in SQL with ``generate_series`` and
``random()`` (seeded). Each profile gets a number of lines over 52 weeks (lognormal,
mean ~32), a mean line value, baskets, spend and value traits, tiers by value rank (10 /
20 / 30 / rest of the active, "lapsed" below P(alive) 0.2) and clusters; a department,
category, brand or manufacturer is in its spend rows with probability ``1 - exp(-lines *
weight)``, the weight being that key's share of the catalog's SKU popularity (so heavy
shoppers buy across more keys, ~60 rows per profile), with the 13- and 4-week windows
drawn the same way. Spend rows are written key by key in ``profile_id`` order (as a
refresh writes them) into the table without its indexes, which are then rebuilt as
migrated. With ``--database URL`` it uses that database as it is, migrated to this code's
head (not dropped): one built with ``--keep-db`` (named ``--db-prefix`` and a random
suffix, so that several people's databases on one server do not mix) can be measured
again, e.g. with one version of the code and then another (``source_state`` says which
``endcap`` each run imported).

Then it runs ``ANALYZE`` and measures; then ``VACUUM (ANALYZE)`` (sets the visibility
map: index-only scans) and measures again. For each rule (three clauses each, on the most
popular non-sensitive names in the data), after ``--warmup`` runs, ``--runs`` runs each
of:

  estimate_rule (sample, the route)  ``estimate_rule(session, rule, sensitive=...)`` as
                  ``POST /audiences/estimate`` runs it: counted on the estimate sample
                  (``--sample-profiles``, built first as a refresh builds it) and scaled up,
                  printed with its 95% interval and how far it is from the exact count
  estimate_size   ``endcap.audiences.estimate.estimate_size(session, rule, sensitive=...)``
                  in a fresh session from one engine's pool per call, as a request does:
                  parse, resolve catalog names, sensitive check, compile, count
  members_query   the same without the count (parse, resolve, check, compile): the
                  framework's own part
  compiled/asyncpg  the statement ``estimate_size`` sends (compiled by SQLAlchemy for
                  asyncpg, same parameters) through asyncpg directly
  compiled, jit off the same on a connection with ``SET jit = off``
  hand/asyncpg    the same count as hand-written SQL through asyncpg

and prints p50 / p95 / p99 / max in ms (goal in issue 4: p95 <= 100 ms for the
estimate the route gives), the counts (all must agree), and once per rule and pass the
``EXPLAIN (ANALYZE, BUFFERS)`` of the compiled statement, and the plan PostgreSQL uses
for it once it is a prepared statement run more than five times (asyncpg and SQLAlchemy
prepare and cache statements; a generic plan may then replace the custom one).

Single process, one query at a time, on a small and noisy machine: read ratios, not the
absolute numbers. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from endcap.db import migrate
from tests.perf.bench_ingest import (
    asyncpg_dsn,
    check_disk,
    describe_load,
    endcap_load,
    postgres_data_dir,
    print_facts,
    settings_for,
)
from tests.support import databases

AS_OF = datetime(2025, 12, 28, 21, 0, tzinfo=UTC)
# ~60 spend rows (~100 bytes each) and a trait row per profile, with indexes, plus WAL.
DB_BYTES_PER_PROFILE = 15_000
MEAN_LINES = 32.0  # lines per profile over 52 weeks, as the generator's 30 per year
LINE_VALUE = 43.0  # mean sales value of a line (SEK), as in the synthetic data
LINES_PER_BASKET = 3.6
SEED = 0.42


# -- building the trait tables ---------------------------------------------------------------


def write_catalog(folder: Path, profiles: int, seed: int) -> tuple[Path, dict[str, float]]:
    """The synthetic retailer's products file, and each SKU's popularity."""
    from endcap.synthetic.catalog import PRODUCT_COLUMNS, build_catalog  # noqa: PLC0415
    from endcap.synthetic.world import CATALOG, stream  # noqa: PLC0415
    from endcap.synthetic.writer import TableWriter  # noqa: PLC0415

    catalog = build_catalog(stream(seed, CATALOG), profiles)
    path = folder / "products.csv"
    writer = TableWriter(path, "csv", PRODUCT_COLUMNS)
    try:
        writer.write(catalog.table)
    finally:
        writer.close()
    popularity = dict(
        zip(catalog.sku.to_pylist(), np.asarray(catalog.popularity, dtype=float), strict=True)
    )
    return path, popularity


async def key_weights(conn: asyncpg.Connection, popularity: dict[str, float]) -> list[tuple]:
    """(level, key, weight): each spend key's share of SKU popularity, as a line picks SKUs."""
    rows = await conn.fetch(
        "SELECT p.sku, p.department, p.category, p.brand_id::text, m.name FROM products p"
        " JOIN brands b ON b.id = p.brand_id JOIN manufacturers m ON m.id = b.manufacturer_id"
    )
    weights: dict[tuple[str, str], float] = {}
    for sku, department, category, brand, maker in rows:
        share = popularity.get(sku, 0.0)
        for level, key in (
            ("department", department),
            ("category", category),
            ("brand", brand),
            ("manufacturer", maker),
        ):
            weights[(level, key)] = weights.get((level, key), 0.0) + share
    total = sum(w for (level, _), w in weights.items() if level == "department")
    return sorted((level, key, w / total) for (level, key), w in weights.items())


def _normal(u1: str, u2: str) -> str:
    """A standard normal draw from two uniform ones (Box-Muller), as SQL."""
    return f"sqrt(-2 * ln(1 - {u1})) * cos(2 * pi() * {u2})"


def traits_sql(profiles: int) -> list[str]:
    """Statements that fill profiles, profile_traits and a helper table of per-profile draws."""
    lines = f"exp(ln({MEAN_LINES}) - 0.32 + 0.8 * {_normal('random()', 'random()')})"
    value = f"exp(ln({LINE_VALUE}) - 0.045 + 0.3 * {_normal('random()', 'random()')})"
    as_of = f"'{AS_OF.isoformat()}'::timestamptz"
    return [
        f"SELECT setseed({SEED})",
        "INSERT INTO profiles (id, created_at)"  # noqa: S608
        f" SELECT g, {as_of} - interval '400 days' FROM generate_series(1, {profiles}) g",
        "SELECT setval(pg_get_serial_sequence('profiles', 'id'), (SELECT max(id) FROM profiles))",
        "CREATE UNLOGGED TABLE bench_draws AS SELECT profile_id, lines, line_value,"  # noqa: S608
        f" greatest(1, round(lines / {LINES_PER_BASKET} * (0.7 + 0.6 * random())))::int AS baskets,"
        " 1 - power(random(), 4) AS p_alive, 0.3 + random() AS value_factor,"
        " floor(364 * random())::int AS tenure_days, floor(power(random(), 3) * 120)::int"
        " AS recency_days FROM (SELECT g AS profile_id, greatest(1, round("
        f"{lines}))::int AS lines, round(({value})::numeric, 4) AS line_value"
        f" FROM generate_series(1, {profiles}) g"
        " OFFSET 0) d",
        "ALTER TABLE bench_draws ADD PRIMARY KEY (profile_id)",
        "INSERT INTO profile_traits (profile_id, as_of, first_purchase_at, last_purchase_at,"  # noqa: S608
        " baskets_52w, spend_52w, units_52w, avg_basket_value, baskets_total, mean_basket_value,"
        " online_share, promo_share,"
        " expected_baskets_12m, p_alive, clv_12m, value_tier, value_cluster)"
        " SELECT profile_id, as_of, first_at, greatest(first_at, as_of - recency_days"
        " * interval '1 day'), baskets, spend, round(lines * 1.1, 3), round(spend / baskets, 2),"
        " baskets, round(spend / baskets, 2),"
        " CASE WHEN random() < 0.3 THEN random() ELSE 0 END, 0.4 * random(),"
        " baskets * p_alive, p_alive, clv,"
        " CASE WHEN p_alive < 0.2 THEN 'lapsed' WHEN rank < 0.1 THEN 'top' WHEN rank < 0.3"
        " THEN 'high' WHEN rank < 0.6 THEN 'medium' ELSE 'low' END,"
        " CASE WHEN rank < 0.15 THEN 1 WHEN rank < 0.5 THEN 2 ELSE 3 END"
        " FROM (SELECT *, percent_rank() OVER (PARTITION BY p_alive < 0.2 ORDER BY clv DESC)"
        " AS rank FROM (SELECT d.*, round(lines * line_value, 2) AS spend,"
        " round((lines * line_value * p_alive * value_factor)::numeric, 2) AS clv,"
        f" {as_of} AS as_of, {as_of} - tenure_days * interval '1 day' - interval '1 hour'"
        " AS first_at FROM bench_draws d) v) r ORDER BY profile_id",
    ]


def spend_sql() -> str:
    """Spend rows key by key (the outer loop), each key's profiles in id order.

    Every draw is a column of its own level (``OFFSET 0`` keeps the levels apart), so each
    ``random()`` is drawn once per row.
    """
    p13 = "(1 - exp(-m * 13 / 52)) / (1 - exp(-m))"
    p4 = "(1 - exp(-m * 4 / 52)) / (1 - exp(-m * 13 / 52))"
    as_of = f"'{AS_OF.isoformat()}'::timestamptz"
    draws = (
        "SELECT k.level, k.key, d.profile_id, d.line_value, d.lines * k.weight AS m,"
        " random() AS bought, random() AS r_n, random() AS r_v, random() AS u13, random() AS u4,"
        " random() AS f13, random() AS f4, random() AS u"
        " FROM bench_keys k CROSS JOIN LATERAL (SELECT * FROM bench_draws d0"
        " WHERE k.weight > 0 ORDER BY d0.profile_id OFFSET 0) d"
    )
    bought = (
        "SELECT *, greatest(1, round(m / (1 - exp(-m)) * (0.5 + r_n))) AS n52,"  # noqa: S608
        f" u13 < {p13} AS in13, u4 < {p4} AS under4"
        f" FROM ({draws}) a WHERE bought < 1 - exp(-m) OFFSET 0"
    )
    amounts = (
        "SELECT *, in13 AND under4 AS in4,"  # noqa: S608
        " round((n52 * line_value * (0.7 + 0.6 * r_v))::numeric, 2)"
        f" AS s52 FROM ({bought}) b OFFSET 0"
    )
    windows = (
        "SELECT *, CASE WHEN NOT in13 THEN 0 WHEN n52 = 1 THEN s52"  # noqa: S608
        " ELSE round((s52 * (0.15 + 0.6 * f13))::numeric, 2) END AS s13"
        f" FROM ({amounts}) c OFFSET 0"
    )
    return (
        "INSERT INTO profile_spend (profile_id, level, key, spend_4w, spend_13w, spend_52w,"  # noqa: S608
        " units_52w, last_purchase_at, units_4w, units_13w)"
        " SELECT profile_id, level, key,"
        " CASE WHEN in4 THEN round((s13 * (0.3 + 0.7 * f4))::numeric, 2)"
        " ELSE 0 END, s13, s52, round((n52 * 1.1)::numeric, 3), "
        f"{as_of} - CASE WHEN in4 THEN 27 * u WHEN in13 THEN 28 + 62 * u ELSE 91 + 270 * u END"
        " * interval '1 day',"
        # Units scale with the window's spend (migration 0018's columns).
        " CASE WHEN in4 THEN round((n52 * 1.1 * (0.3 + 0.7 * f4) * s13"
        " / greatest(s52, 0.01))::numeric, 3) ELSE 0 END,"
        " round((n52 * 1.1 * s13 / greatest(s52, 0.01))::numeric, 3)"
        f" FROM ({windows}) w"
    )


async def build_tables(url: str, profiles: int, popularity: dict[str, float]) -> dict[str, float]:
    """Fill the trait tables; returns seconds per step."""
    seconds: dict[str, float] = {}
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET work_mem = '256MB'")
        started = time.perf_counter()
        for statement in traits_sql(profiles):
            await conn.execute(statement)
        seconds["profiles + profile_traits"] = time.perf_counter() - started
        weights = await key_weights(conn, popularity)
        await conn.execute("CREATE UNLOGGED TABLE bench_keys (level text, key text, weight float8)")
        await conn.copy_records_to_table("bench_keys", records=weights)
        pk = await conn.fetchrow(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
            " WHERE conrelid = 'profile_spend'::regclass AND contype = 'p'"
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'profile_spend'"
            " AND indexname <> $1",
            pk["conname"],
        )
        await conn.execute(f'ALTER TABLE profile_spend DROP CONSTRAINT "{pk["conname"]}"')
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        started = time.perf_counter()
        await conn.execute(spend_sql())
        seconds["profile_spend rows"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(
            f'ALTER TABLE profile_spend ADD CONSTRAINT "{pk["conname"]}" {pk["definition"]}'
        )
        for index in indexes:
            await conn.execute(index["indexdef"])
        seconds["profile_spend indexes (rebuilt as migrated)"] = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_keys")
        await conn.execute("DROP TABLE bench_draws")
    finally:
        await conn.close()
    return seconds


async def table_facts(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        traits = await conn.fetchval("SELECT count(*) FROM profile_traits")
        spend = {
            r[0]: int(r[1])
            for r in await conn.fetch("SELECT level, count(*) FROM profile_spend GROUP BY level")
        }
        tiers = {
            r[0]: int(r[1])
            for r in await conn.fetch(
                "SELECT value_tier, count(*) FROM profile_traits GROUP BY 1 ORDER BY 1"
            )
        }
        sizes = {
            r[0]: int(r[1])
            for r in await conn.fetch(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relname IN ('profile_traits', 'profile_spend') AND relkind = 'r'"
            )
        }
        over_500 = await conn.fetchval("SELECT count(*) FROM profile_traits WHERE spend_52w > 500")
    finally:
        await conn.close()
    return {
        "traits": int(traits),
        "spend": spend,
        "tiers": tiers,
        "sizes": sizes,
        "over_500": over_500,
    }


# -- the rules --------------------------------------------------------------------------------


# A brand name's ids and the categories they sell in.
SELLER = (
    "SELECT b.id, array_agg(DISTINCT p.category) AS categories FROM brands b"
    " JOIN products p ON p.brand_id = b.id WHERE b.name = $1 GROUP BY b.id"
)
# The brand selling in the most categories (the store brand of the synthetic catalog).
WIDEST_BRAND = (
    "SELECT b.name FROM brands b JOIN products p ON p.brand_id = b.id GROUP BY b.name"
    " ORDER BY count(DISTINCT p.category) DESC, b.name LIMIT 1"
)

POPULAR = (
    "SELECT key, count(*) AS buyers FROM profile_spend WHERE level = $1 AND spend_13w > 0"
    " GROUP BY key ORDER BY buyers DESC, key LIMIT 8"
)


async def popular_names(url: str) -> dict[str, list[tuple[str, int]]]:
    """The most bought keys per level (13 weeks), as names a rule uses."""
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        found: dict[str, list[tuple[str, int]]] = {}
        for level in ("department", "category", "brand", "manufacturer"):
            rows = await conn.fetch(POPULAR, level)
            if level == "brand":
                names = dict(
                    await conn.fetch(
                        "SELECT id::text, name FROM brands WHERE id = ANY($1::bigint[])",
                        [int(r["key"]) for r in rows],
                    )
                )
                found[level] = [(names[r["key"]], int(r["buyers"])) for r in rows]
            else:
                found[level] = [(r["key"], int(r["buyers"])) for r in rows]
    finally:
        await conn.close()
    return found


def _share(brand: str, weeks: int, op: str, value: float) -> dict[str, Any]:
    return {
        "share_of_category": {"level": "brand", "name": brand},
        "within_weeks": weeks,
        "op": op,
        "value": value,
    }


def rules(names: dict[str, str]) -> dict[str, dict[str, Any]]:
    category, department = names["category"], names["department"]
    brand, maker = names["brand"], names["manufacturer"]
    return {
        "R1 spend>500 & bought category 13w & tier top/high": {
            "and": [
                {"trait": "spend_52w", "op": ">", "value": 500},
                {"bought": {"level": "category", "name": category}, "within_weeks": 13},
                {"value_tier": ["top", "high"]},
            ]
        },
        "R2 recency<=28d & spent>200 on department 52w & not lapsed": {
            "and": [
                {"trait": "recency_days", "op": "<=", "value": 28},
                {
                    "spent": {"level": "department", "name": department},
                    "within_weeks": 52,
                    "op": ">",
                    "value": 200,
                },
                {"not": {"value_tier": ["lapsed"]}},
            ]
        },
        "R3 bought brand 4w | new to manufacturer 13w | cluster 1": {
            "or": [
                {"bought": {"level": "brand", "name": brand}, "within_weeks": 4},
                {"new_to": {"level": "manufacturer", "name": maker}, "within_weeks": 13},
                {"cluster": [1]},
            ]
        },
        "R4 spent>100 on category 4w & clv>2000 & baskets>=10": {
            "and": [
                {
                    "spent": {"level": "category", "name": category},
                    "within_weeks": 4,
                    "op": ">",
                    "value": 100,
                },
                {"trait": "clv_12m", "op": ">", "value": 2000},
                {"trait": "baskets_52w", "op": ">=", "value": 10},
            ]
        },
        "R5 share of category (brand, few categories) 52w>=0.3 & tier & recency<=60d": {
            "and": [
                _share(brand, 52, ">=", 0.3),
                {"value_tier": ["top", "high", "medium"]},
                {"trait": "recency_days", "op": "<=", "value": 60},
            ]
        },
        "R6 share of category (store brand, most categories) 52w>=0.3 & tier & recency<=60d": {
            "and": [
                _share(names["store_brand"], 52, ">=", 0.3),
                {"value_tier": ["top", "high", "medium"]},
                {"trait": "recency_days", "op": "<=", "value": 60},
            ]
        },
        "R7 share of category (brand) 13w<0.1 & spend>500 & not lapsed": {
            "and": [
                _share(brand, 13, "<", 0.1),
                {"trait": "spend_52w", "op": ">", "value": 500},
                {"not": {"value_tier": ["lapsed"]}},
            ]
        },
    }


# A seller's spend over its categories' spend, as a person would write it ($1 the seller's
# brand ids, $2 its categories); {window} and {test} are this script's own text.
_SHARE = (
    "SELECT s.profile_id FROM profile_spend s WHERE (s.level = 'brand'"
    " AND s.key = ANY($1::text[])) OR (s.level = 'category' AND s.key = ANY($2::text[]))"
    " GROUP BY s.profile_id HAVING sum(s.{window}) FILTER (WHERE s.level = 'category') > 0"
    " AND {test}"
)
_SELLER = "coalesce(sum(s.{window}) FILTER (WHERE s.level = 'brand'), 0)"
_REQUIREMENTS = "sum(s.{window}) FILTER (WHERE s.level = 'category')"


def _share_sql(window: str, p: int, q: int, op: str) -> str:
    seller, requirements = _SELLER.format(window=window), _REQUIREMENTS.format(window=window)
    return _SHARE.format(window=window, test=f"{q} * {seller} {op} {p} * {requirements}")


def hand_written(
    names: dict[str, str], brand_ids: list[int], sellers: dict[str, tuple[list[str], list[str]]]
) -> dict[str, tuple[str, list[Any]]]:
    """The same counts as SQL a person would write (same order as :func:`rules`).

    ``sellers`` maps a brand name to its ids (as spend keys) and its categories.
    """
    brand, store = sellers[names["brand"]], sellers[names["store_brand"]]
    shared_recent = (
        "SELECT count(*) FROM profile_traits t WHERE t.value_tier IN ('top', 'high', 'medium')"  # noqa: S608
        " AND t.last_purchase_at > $3"
        f" AND t.profile_id IN ({_share_sql('spend_52w', 3, 10, '>=')})"
    )
    return {
        "R1": (
            "SELECT count(*) FROM profile_traits t WHERE t.spend_52w > 500"
            " AND t.value_tier IN ('top', 'high') AND EXISTS (SELECT 1 FROM profile_spend s"
            " WHERE s.level = 'category' AND s.key = $1 AND s.profile_id = t.profile_id"
            " AND s.spend_13w > 0)",
            [names["category"]],
        ),
        "R2": (
            "SELECT count(*) FROM profile_traits t WHERE t.last_purchase_at > $2"
            " AND t.value_tier IS DISTINCT FROM 'lapsed' AND EXISTS (SELECT 1 FROM profile_spend s"
            " WHERE s.level = 'department' AND s.key = $1 AND s.profile_id = t.profile_id"
            " AND s.spend_52w > 200)",
            [names["department"], None],  # the cut-off is filled in once as_of is known
        ),
        "R3": (
            "SELECT count(*) FROM profile_traits t WHERE t.value_cluster = 1"
            " OR t.profile_id IN (SELECT s.profile_id FROM profile_spend s WHERE s.level = 'brand'"
            " AND s.key = ANY($1::text[]) GROUP BY s.profile_id HAVING sum(s.spend_4w) > 0)"
            " OR t.profile_id IN (SELECT s.profile_id FROM profile_spend s"
            " WHERE s.level = 'manufacturer' AND s.key = $2 AND s.spend_13w > 0"
            " AND s.spend_52w = s.spend_13w)",
            [[str(i) for i in brand_ids], names["manufacturer"]],
        ),
        "R4": (
            "SELECT count(*) FROM profile_traits t JOIN profile_spend s ON s.profile_id ="
            " t.profile_id AND s.level = 'category' AND s.key = $1 WHERE s.spend_4w > 100"
            " AND t.clv_12m > 2000 AND t.baskets_52w >= 10",
            [names["category"]],
        ),
        "R5": (shared_recent, [*brand, None]),  # the cut-off is filled in once as_of is known
        "R6": (shared_recent, [*store, None]),
        "R7": (
            "SELECT count(*) FROM profile_traits t WHERE t.spend_52w > 500"  # noqa: S608
            " AND t.value_tier IS DISTINCT FROM 'lapsed'"
            f" AND t.profile_id IN ({_share_sql('spend_13w', 1, 10, '<')})",
            [*brand],
        ),
    }


# -- measuring ---------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "mean": float(ms.mean()),
    }


async def timed(
    call: Callable[[], Awaitable[Any]], warmup: int, runs: int
) -> tuple[Any, list[float]]:
    result = None
    for _ in range(warmup):
        result = await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await call()
        samples.append(time.perf_counter() - started)
    return result, samples


async def measure(url: str, names: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select  # noqa: PLC0415

    from endcap.audiences.estimate import (  # noqa: PLC0415
        estimate_rule,
        estimate_size,
        members_query,
    )
    from endcap.audiences.repository import AudienceRepository  # noqa: PLC0415
    from endcap.db.engine import create_engine, create_session_factory  # noqa: PLC0415
    from endcap.privacy.sensitive import SensitiveCategories  # noqa: PLC0415

    settings = settings_for(url)
    engine = create_engine(settings.database)
    factory = create_session_factory(engine)
    # The store brand sells in every department, sensitive ones too: a rule on it is sized
    # for a retailer that marks none (the other rules' names are not sensitive anyway).
    sensitive = SensitiveCategories(departments=())
    raw = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    no_jit = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    await no_jit.execute("SET jit = off")
    out: dict[str, Any] = {}
    try:
        async with factory() as session:
            as_of = await AudienceRepository(session).latest_as_of()
        if as_of is None:
            raise SystemExit("no traits in the database")
        brand_ids = [
            int(r[0])
            for r in await raw.fetch("SELECT id FROM brands WHERE name = $1", names["brand"])
        ]
        sellers = {
            name: (
                [str(r["id"]) for r in rows],
                sorted({c for r in rows for c in r["categories"]}),
            )
            for name in (names["brand"], names["store_brand"])
            for rows in [await raw.fetch(SELLER, name)]
        }
        hands = hand_written(names, brand_ids, sellers)
        for (label, rule), (short, (hand_sql, given)) in zip(
            rules(names).items(), hands.items(), strict=True
        ):
            if args.rules and short not in args.rules.split(","):
                continue
            hand_params = list(given)
            if short == "R2":  # recency_days <= 28: the last purchase after as_of - 29 days
                hand_params[1] = as_of - timedelta(days=29)
            if short in ("R5", "R6"):  # recency_days <= 60
                hand_params[2] = as_of - timedelta(days=61)
            async with factory() as session:
                members = await members_query(session, rule, sensitive=sensitive)
            statement = select(func.count()).select_from(members.subquery())
            compiled = statement.compile(
                dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            sql = compiled.string
            params = [compiled.params[name] for name in compiled.positiontup or ()]

            async def via_estimate(rule: dict[str, Any] = rule) -> int:
                async with factory() as session:
                    return await estimate_size(session, rule, sensitive=sensitive)

            async def via_sample(rule: dict[str, Any] = rule) -> Any:
                async with factory() as session:
                    return await estimate_rule(session, rule, sensitive=sensitive)

            async def via_members(rule: dict[str, Any] = rule) -> Any:
                async with factory() as session:
                    return await members_query(session, rule, sensitive=sensitive)

            async def via_count(members: Any = members) -> int:
                async with factory() as session:
                    return await AudienceRepository(session).count(members)

            async def via_compiled(sql: str = sql, params: list[Any] = params) -> int:
                return int(await raw.fetchval(sql, *params))

            async def via_compiled_no_jit(sql: str = sql, params: list[Any] = params) -> int:
                return int(await no_jit.fetchval(sql, *params))

            async def via_hand(sql: str = hand_sql, params: list[Any] = hand_params) -> int:
                return int(await raw.fetchval(sql, *params))

            variants: dict[str, Callable[[], Awaitable[Any]]] = {
                "estimate_rule (sample, the route)": via_sample,
                "estimate_size": via_estimate,
                "members_query (no count)": via_members,
                "count only (session, built query)": via_count,
                "compiled SQL / asyncpg": via_compiled,
                "compiled SQL / asyncpg, jit off": via_compiled_no_jit,
                "hand-written SQL / asyncpg": via_hand,
            }
            if args.route_only:
                variants = {n: c for n, c in variants.items() if n in ROUTE_AND_EXACT}
            results: dict[str, Any] = {}
            for name, call in variants.items():
                # --route-only: the exact count once, for the estimate's error only.
                once = args.route_only and name != ROUTE_AND_EXACT[0]
                value, samples = await timed(
                    call, 0 if once else args.warmup, 1 if once else args.runs
                )
                results[name] = {
                    "count": value if isinstance(value, int) else None,
                    "estimate": value if name.startswith("estimate_rule") else None,
                    **percentiles(samples),
                }
            plan = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *params)
            out[label] = {
                "rule": rule,
                "sql": sql,
                "params": params,
                "results": results,
                "plan": [r[0] for r in plan],
                "prepared_plan": await prepared_plan(raw, sql, params),
            }
    finally:
        await raw.close()
        await no_jit.close()
        await engine.dispose()
    return out


async def prepared_plan(conn: asyncpg.Connection, sql: str, params: list[Any]) -> list[str]:
    """The plan of ``sql`` as a prepared statement after six executions (generic or custom).

    Six, because PostgreSQL (plan_cache_mode auto) weighs a generic plan after five custom
    ones; asyncpg, and SQLAlchemy through it, keep statements prepared per connection.
    """
    # Not DEALLOCATE ALL: that would also drop the statements asyncpg keeps prepared on
    # this connection, which the next rule's timed runs may reuse (same text).
    await conn.execute(f"PREPARE bench_count AS {sql}")
    # EXECUTE takes no bind parameters: the values go in as quoted literals, which the
    # statement's own casts ($1::NUMERIC ...) type (the values are this script's own).
    arguments = ", ".join(_literal(p) for p in params)
    execute = f"EXECUTE bench_count({arguments})" if params else "EXECUTE bench_count"
    try:
        for _ in range(6):
            await conn.fetch(execute)
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {execute}")
    finally:
        await conn.execute("DEALLOCATE bench_count")
    return [r[0] for r in rows]


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, list | tuple):
        value = "{" + ",".join(str(v) for v in value) + "}"
    return "'" + str(value).replace("'", "''") + "'"


# -- printing ----------------------------------------------------------------------------------


def print_pass(title: str, measured: dict[str, Any], full_plans: bool) -> None:
    print(f"\n== {title} ==")
    for label, found in measured.items():
        print(f"\n{label}")
        print(f"  rule: {found['rule']}")
        counts = {r["count"] for r in found["results"].values() if r["count"] is not None}
        agree = "counts agree" if len(counts) == 1 else f"COUNTS DIFFER: {sorted(counts)}"
        print(f"  {'':<34}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'count':>10}")
        for name, r in found["results"].items():
            count = f"{r['count']:,}" if r["count"] is not None else "-"
            print(
                f"  {name:<34}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.1f}"
                f"{count:>10}"
            )
        print(f"  {agree}")
        for name, r in found["results"].items():
            e = r["estimate"]
            if e is not None:
                exact = next(iter(counts)) if len(counts) == 1 else None
                off = f"{(e.size - exact) / exact:+.1%} off the exact count" if exact else ""
                if exact is not None and not e.low <= exact <= e.high:
                    off += " OUTSIDE THE INTERVAL"
                print(
                    f"  {name}: {e.size:,} (95% {e.low:,} to {e.high:,}; exact={e.exact},"
                    f" sample {e.sampled_profiles}) {off}"
                )
        if full_plans:
            print(f"  compiled SQL: {' '.join(found['sql'].split())}")
            print(f"  parameters: {found['params']}")
            print("  EXPLAIN (ANALYZE, BUFFERS) with these parameters (a custom plan):")
            for line in found["plan"]:
                print(f"    {line}")
        generic = found["prepared_plan"]
        if generic and any("$" in line for line in generic):
            print("  as a prepared statement after 6 runs PostgreSQL switched to a GENERIC plan:")
            for line in generic:
                print(f"    {line}")
        elif full_plans:
            print("  as a prepared statement after 6 runs: still a custom plan (no $n in it)")


ROUTE_AND_EXACT = ("estimate_rule (sample, the route)", "estimate_size")


def print_summary(passes: dict[str, dict[str, Any]]) -> None:
    print(
        f"\n{'p50 / p95 / p99 ms: estimate_rule (sample), estimate_size (exact)':<60}"
        + "".join(f"{p + ' ' + v:>24}" for p in passes for v in ("sample", "exact"))
    )
    labels = next(iter(passes.values())).keys()
    for label in labels:
        cells = []
        for measured in passes.values():
            for variant in ROUTE_AND_EXACT:
                r = measured[label]["results"][variant]
                cells.append(f"{r['p50']:.0f} / {r['p95']:.0f} / {r['p99']:.0f}")
        print(f"{label:<60}" + "".join(f"{c:>24}" for c in cells))
    print("goal: p95 <= 100 ms (issue 4) for the estimate the route gives")
    print(f"\n{'p95 ms by variant':<60}" + "".join(f"{p:>24}" for p in passes))
    for label in labels:
        print(label)
        for variant in next(iter(passes.values()))[label]["results"]:
            cells = [f"{m[label]['results'][variant]['p95']:.1f}" for m in passes.values()]
            print(f"  {variant:<58}" + "".join(f"{c:>24}" for c in cells))


# -- the run -----------------------------------------------------------------------------------


async def _execute(url: str, statement: str) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        started = time.perf_counter()
        await conn.execute(statement)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def build_sample(url: str, target: int) -> None:
    """The estimate sample, as a refresh leaves it (traits/sample.py), and its refresh row."""
    from endcap.db.engine import create_engine, create_session_factory  # noqa: PLC0415
    from endcap.traits.models import TraitRefresh  # noqa: PLC0415
    from endcap.traits.repository import TraitsRepository  # noqa: PLC0415
    from endcap.traits.sample import SampleRepository, share_for  # noqa: PLC0415

    engine = create_engine(settings_for(url).database)
    try:
        async with create_session_factory(engine)() as session:
            started = time.perf_counter()
            traits = TraitsRepository(session)
            universe = await traits.profile_count()
            share = share_for(universe, target)
            sampled = await SampleRepository(session).rebuild(share)
            await traits.record_refresh(
                TraitRefresh(
                    as_of=AS_OF,
                    mode="full",
                    profiles_recomputed=universe,
                    sample_share=share,
                    sample_profiles=sampled if share else None,
                    profiles=universe,
                )
            )
            await session.commit()
            print(
                f"\nestimate sample: share {share} of {universe:,} profiles = {sampled:,},"
                f" built in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
    finally:
        await engine.dispose()


def choose_names(url: str) -> dict[str, str]:
    """The most popular names per level that are not sensitive (nor under a sensitive one)."""
    from endcap.privacy.settings import SENSITIVE_DEPARTMENTS  # noqa: PLC0415

    started = time.perf_counter()
    popular = asyncio.run(popular_names(url))
    sensitive = {d.casefold() for d in SENSITIVE_DEPARTMENTS}
    rows = asyncio.run(_sensitive_keys(url, list(SENSITIVE_DEPARTMENTS)))
    chosen = {}
    for level, found in popular.items():
        allowed = [
            (n, c) for n, c in found if n.casefold() not in sensitive and n not in rows[level]
        ]
        chosen[level] = allowed[0][0]
        print(
            f"  most bought {level} (13 weeks, non-sensitive): "
            + ", ".join(f"{n} {c:,}" for n, c in allowed[:4])
        )
    chosen["store_brand"] = asyncio.run(_fetchval(url, WIDEST_BRAND))
    print(f"  brand in the most categories (share of category): {chosen['store_brand']}")
    print(f"  (looked up in {time.perf_counter() - started:.1f} s)")
    return chosen


async def _fetchval(url: str, query: str) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def _sensitive_keys(url: str, departments: list[str]) -> dict[str, set[str]]:
    """Names at each level that sell in a sensitive department (a rule on them is refused)."""
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT p.category, b.name AS brand, m.name AS maker FROM products p"
            " JOIN brands b ON b.id = p.brand_id JOIN manufacturers m ON m.id = b.manufacturer_id"
            " WHERE lower(p.department) = ANY($1::text[])",
            [d.casefold() for d in departments],
        )
    finally:
        await conn.close()
    return {
        "department": set(),
        "category": {r["category"] for r in rows},
        "brand": {r["brand"] for r in rows},
        "manufacturer": {r["maker"] for r in rows},
    }


def source_state() -> str:
    """Where ``endcap`` is imported from, and whether its audiences code differs from HEAD."""
    import endcap  # noqa: PLC0415

    where = Path(endcap.__file__).resolve().parent
    try:
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return f"endcap from {where} (not a git work tree)"
    dirty = [line[3:] for line in changed if line.strip()]
    return f"endcap from {where}; files changed from HEAD under it: {dirty or 'none'}"


def run(args: argparse.Namespace) -> None:
    print(source_state())
    own = args.database is None
    url = args.database or databases.create_postgres_database(args.db_prefix)
    folder = Path(tempfile.mkdtemp(prefix="endcap-bench-estimate-"))
    try:
        migrate.upgrade(url)  # a kept database, too, may be from an older revision
        if own:
            print(f"\n== building the trait tables: {args.profiles:,} profiles ==", flush=True)
            check_disk(postgres_data_dir(), args.profiles * DB_BYTES_PER_PROFILE, "the database")
            products, popularity = write_catalog(folder, args.profiles, args.seed)
            load = endcap_load(url, "products", products, args.timeout)
            print(f"  load products {describe_load(load)}", flush=True)
            started = time.perf_counter()
            built = asyncio.run(build_tables(url, args.profiles, popularity))
            for step, seconds in built.items():
                print(f"  {step:<48}{seconds:>8.1f} s", flush=True)
            print(f"  {'total':<48}{time.perf_counter() - started:>8.1f} s")
        facts = asyncio.run(table_facts(url))
        print(
            f"  profile_traits {facts['traits']:,} rows; profile_spend "
            f"{sum(facts['spend'].values()):,} rows ({facts['spend']}),"
            f" {sum(facts['spend'].values()) / max(facts['traits'], 1):.1f} per profile"
        )
        print(f"  tiers {facts['tiers']}; spend_52w > 500: {facts['over_500']:,}")
        print(
            "  sizes with indexes: "
            + ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in facts["sizes"].items())
        )
        names = choose_names(url)
        asyncio.run(build_sample(url, args.sample_profiles))
        passes: dict[str, dict[str, Any]] = {}
        seconds = asyncio.run(_execute(url, "ANALYZE profile_traits, profile_spend"))
        print(f"\nANALYZE profile_traits, profile_spend: {seconds:.1f} s", flush=True)
        passes["after ANALYZE"] = asyncio.run(measure(url, names, args))
        print_pass("after ANALYZE", passes["after ANALYZE"], full_plans=True)
        if not args.no_vacuum:
            tables = "profile_traits, profile_spend, profile_traits_sample, profile_spend_sample"
            seconds = asyncio.run(_execute(url, f"VACUUM (ANALYZE) {tables}"))
            print(f"\nVACUUM (ANALYZE) {tables}: {seconds:.1f} s", flush=True)
            passes["after VACUUM"] = asyncio.run(measure(url, names, args))
            print_pass("after VACUUM (index-only scans possible)", passes["after VACUUM"], True)
        print_summary(passes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if own and not args.keep_db:
            databases.drop_postgres_database(url)
        elif own:
            print(f"\nkept the database: --database {url}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profiles", type=int, default=1_000_000, help="profiles to build")
    parser.add_argument("--seed", type=int, default=7, help="catalog seed")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per rule and variant")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs before them")
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="measure this database as it is (e.g. left by bench_traits --keep-db); not dropped",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the database it builds (for --database)"
    )
    parser.add_argument(
        "--db-prefix",
        default="endcap_bench_estimate",
        help="name prefix of the database it builds (a random suffix follows)",
    )
    parser.add_argument(
        "--sample-profiles",
        type=int,
        default=50_000,
        help="the estimate sample's target (ENDCAP_AUDIENCE_ESTIMATE_SAMPLE_PROFILES)",
    )
    parser.add_argument("--no-vacuum", action="store_true", help="skip the pass after VACUUM")
    parser.add_argument("--rules", default=None, help="only these rules, e.g. R1,R5,R6")
    parser.add_argument(
        "--route-only",
        action="store_true",
        help="time only the route's estimate_rule; estimate_size once (at 1M exact ones are slow)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds the catalog load may take"
    )
    args = parser.parse_args(argv)
    print_facts()
    run(args)


if __name__ == "__main__":
    main()
