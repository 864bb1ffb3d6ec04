"""The multi-audience reach query at 100k and 1M profiles, next to DuckDB on the same rows.

    .venv/bin/python -m tests.perf.bench_overlap [--profiles 100000 1000000] [--runs 7]

A forecast or booking of a campaign with several audiences counts, per consent
purpose, the consenting shoppers each pair of audiences shares
(``OverlapRepository.consented_counts``; marketplace/reach.py turns those into the
union's brand-facing reach). This times that query, as a forecast runs it, on the
synthetic shop of ``bench_activation`` (consent events for 9 in 10 and 7 in 10, some
withdrawn) with three audience versions: A holds everyone, B the even profiles
(1/2), C every third (1/3). So A-B-C is 1.83 member rows per profile.

Each member is stamped with the consent its shopper holds, as a refresh stamps it
(audiences/shown_consent.py), and Endcap counts the members whose stamp holds the
purpose. The baseline is DuckDB running the same SQL over the same rows Endcap reads
(the members and their stamps, copied out of PostgreSQL once and loaded into DuckDB's
memory; the copy is not timed), on all cores and on one: the ratio column is Endcap
over DuckDB on all cores. A second DuckDB column answers the same question the way an
analyst holding only the ledger would: members joined to the latest event per profile
and purpose, aggregated from every consent event and customer record each time. All
answers must be equal, which also checks the stamps against the ledger at this size.
Read ratios: the machines are small and noisy.

Before the timings, the line "state refresh" times the bulk write path once: the
consent state of every profile recomputed from the ledger, as a consent load touching
everyone would (rolled back, so the timed queries read the table as built).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select, update

from endcap.audiences.models import Audience, AudienceMember, AudienceStatus, AudienceVersion
from endcap.audiences.shown_consent import PURPOSE_BITS, held_now
from endcap.consent.models import Purpose
from endcap.consent.state import refresh_consents
from endcap.db import migrate
from endcap.db.base import table_of
from endcap.db.session import standalone_session
from endcap.identity.models import Profile
from endcap.marketplace.repository import OverlapRepository
from tests.perf.bench_activation import build_shop
from tests.perf.bench_ingest import asyncpg_dsn, print_facts, settings_for
from tests.support import databases

# (name, share as SQL on the profile id g); A is bench_activation's audience of everyone.
SUBSETS = (("B", "profile_id % 2 = 0"), ("C", "profile_id % 3 = 0"))
PURPOSE = Purpose.TARGETING_ONSITE

# The same question in plain SQL, for DuckDB: consenting shoppers per membership mask.
SHOPPERS_SQL = """
WITH shoppers AS (
    SELECT profile_id, sum(bit) AS mask FROM (
        SELECT profile_id, CASE audience WHEN 'A' THEN 1 WHEN 'B' THEN 2 ELSE 4 END AS bit
        FROM members WHERE audience IN ({chosen}) AND {consented}
    ) GROUP BY profile_id
)
SELECT mask, count(*) FROM shoppers GROUP BY mask
"""
# What Endcap reads: each member's stamp.
STAMPED_SQL = "(purposes & {bit}) != 0"
# From the ledger alone: the latest event per profile wins, a tie goes to the withdrawal.
LEDGER_SQL = """profile_id IN (
    SELECT c.profile_id FROM consent_events e JOIN customers c ON c.id = e.customer_ref
    WHERE e.purpose = '{purpose}' AND c.profile_id IS NOT NULL
    GROUP BY c.profile_id
    HAVING max(CASE WHEN e.status = 'granted' THEN e.recorded_at END) IS NOT NULL
       AND (max(CASE WHEN e.status = 'withdrawn' THEN e.recorded_at END) IS NULL
            OR max(CASE WHEN e.status = 'granted' THEN e.recorded_at END)
             > max(CASE WHEN e.status = 'withdrawn' THEN e.recorded_at END)))
"""


async def add_subsets(url: str, everyone: uuid.UUID) -> dict[str, tuple[uuid.UUID, int]]:
    """Audiences B and C as published versions holding their share of A's members."""
    versions = {"A": (everyone, 1)}
    async with standalone_session(settings_for(url).database) as session:
        for name, _ in SUBSETS:
            audience = Audience(name=f"bench {name}", status=AudienceStatus.PUBLISHED)
            audience.current_version = 1
            session.add(audience)
            await session.flush()
            session.add(AudienceVersion(audience_id=audience.id, version=1, size=0))
            versions[name] = (audience.id, 1)
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        for name, where in SUBSETS:
            # ``where`` is one of this module's SUBSETS.
            subset = (
                "INSERT INTO audience_members (audience_id, version, profile_id)"  # noqa: S608
                " SELECT $1, 1, profile_id FROM audience_members WHERE audience_id = $2"
                f" AND {where}"
            )
            await conn.execute(
                subset,
                versions[name][0],
                everyone,
            )
    finally:
        await conn.close()
    async with standalone_session(settings_for(url).database) as session:
        # As a refresh stamps them (membership.store_members): the consent held now.
        held, m = held_now(), table_of(AudienceMember).c
        connection = await session.connection()
        await connection.execute(
            update(table_of(AudienceMember))
            .where(m.profile_id == held.c.profile_id)
            .values(purposes_at_refresh=held.c.bits)
        )
        await session.commit()
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return versions


async def time_endcap(
    url: str, versions: list[tuple[uuid.UUID, int]], runs: int
) -> tuple[list[float], dict[frozenset[int], int]]:
    times, found = [], {}
    async with standalone_session(settings_for(url).database) as session:
        repository = OverlapRepository(session)
        for _ in range(runs):
            started = time.perf_counter()
            counted = await repository.count_now(versions, PURPOSE)
            found = {frozenset(pair): c.both for pair, c in counted.items() if c.both}
            times.append(time.perf_counter() - started)
    return times, found


async def time_refresh(url: str) -> float:
    """Seconds to recompute every profile's consent state (rolled back)."""
    async with standalone_session(settings_for(url).database) as session:
        started = time.perf_counter()
        await refresh_consents(session, select(table_of(Profile).c.id))
        took = time.perf_counter() - started
        await session.rollback()
    return took


async def copy_out(url: str, folder: Path, names: dict[uuid.UUID, str]) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        await conn.copy_from_query(
            "SELECT audience_id, profile_id, purposes_at_refresh FROM audience_members",
            output=str(folder / "members.csv"),
            format="csv",
        )
        await conn.copy_from_query(
            "SELECT id, profile_id FROM customers",
            output=str(folder / "customers.csv"),
            format="csv",
        )
        await conn.copy_from_query(
            "SELECT customer_ref, purpose, status, recorded_at FROM consent_events",
            output=str(folder / "consent.csv"),
            format="csv",
        )
    finally:
        await conn.close()
    (folder / "names.csv").write_text("".join(f"{k},{v}\n" for k, v in names.items()))


def duckdb_connection(folder: Path, threads: int) -> Any:
    import duckdb  # noqa: PLC0415  (a dev extra: benchmarks only)

    # The CSV paths are this run's temporary folder, the only text put into this SQL.
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    con.execute(
        "CREATE TABLE names AS SELECT * FROM read_csv("  # noqa: S608
        f"'{folder / 'names.csv'}', header = false, columns = {{'id': 'UUID', 'name': 'VARCHAR'}})"
    )
    con.execute(
        "CREATE TABLE members AS SELECT n.name AS audience, m.profile_id, m.purposes"  # noqa: S608
        f" FROM read_csv('{folder / 'members.csv'}', header = false,"
        " columns = {'audience_id': 'UUID', 'profile_id': 'BIGINT', 'purposes': 'INTEGER'}) m"
        " JOIN names n ON n.id = m.audience_id"
    )
    con.execute(
        f"CREATE TABLE customers AS SELECT * FROM read_csv('{folder / 'customers.csv'}',"  # noqa: S608
        " header = false, columns = {'id': 'BIGINT', 'profile_id': 'BIGINT'})"
    )
    con.execute(
        f"CREATE TABLE consent_events AS SELECT * FROM read_csv('{folder / 'consent.csv'}',"  # noqa: S608
        " header = false, columns = {'customer_ref': 'BIGINT', 'purpose': 'VARCHAR',"
        " 'status': 'VARCHAR', 'recorded_at': 'TIMESTAMPTZ'})"
    )
    return con


def time_duckdb(
    con: Any, chosen: list[str], runs: int, *, ledger: bool = False
) -> tuple[list[float], dict[int, int]]:
    consented = (
        LEDGER_SQL.format(purpose=PURPOSE.value)
        if ledger
        else STAMPED_SQL.format(bit=PURPOSE_BITS[PURPOSE])
    )
    sql = SHOPPERS_SQL.format(chosen=", ".join(f"'{c}'" for c in chosen), consented=consented)
    times, rows = [], []
    for _ in range(runs):
        started = time.perf_counter()
        rows = con.execute(sql).fetchall()
        times.append(time.perf_counter() - started)
    return times, {int(mask): int(n) for mask, n in rows}


def pairs_of(masks: dict[int, int], size: int) -> dict[frozenset[int], int]:
    """Per pair of audiences (by index), as consented_counts answers it."""
    pairs: dict[frozenset[int], int] = {}
    for mask, count in masks.items():
        held = [i for i in range(size) if mask >> i & 1]
        for k, i in enumerate(held):
            for j in held[k + 1 :]:
                pairs[frozenset((i, j))] = pairs.get(frozenset((i, j)), 0) + count
    return pairs


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{1000 * statistics.median(values):8.0f} {1000 * p95:8.0f}"


def run_size(profiles: int, runs: int) -> None:
    url = databases.create_postgres_database("endcap_bench_overlap")
    try:
        migrate.upgrade(url)
        started = time.perf_counter()
        _, everyone = asyncio.run(build_shop(url, profiles))
        versions = asyncio.run(add_subsets(url, everyone))
        print(f"\n{profiles:,} profiles: shop built in {time.perf_counter() - started:.0f} s")
        print(f"state refresh of all {profiles:,} profiles: {asyncio.run(time_refresh(url)):.1f} s")
        with tempfile.TemporaryDirectory(prefix="endcap-overlap-") as tmp:
            folder = Path(tmp)
            asyncio.run(copy_out(url, folder, {v[0]: k for k, v in versions.items()}))
            cores = duckdb_connection(folder, 0), duckdb_connection(folder, 1)
            print(
                f"{'audiences':<10}{'endcap p50':>11}{'p95':>9}{'duckdb p50':>11}{'p95':>9}"
                f"{'1-thread p50':>13}{'p95':>9}{'ratio p50':>10}{'ledger p50':>11}{'p95':>9}"
                "  pairs"
            )
            for chosen in (["A", "B"], ["A", "B", "C"]):
                ours, found = asyncio.run(time_endcap(url, [versions[c] for c in chosen], runs))
                both, masks = time_duckdb(cores[0], chosen, runs)
                one, masks_one = time_duckdb(cores[1], chosen, runs)
                raw, masks_raw = time_duckdb(cores[0], chosen, runs, ledger=True)
                expected = pairs_of(masks, len(chosen))
                assert found == expected == pairs_of(masks_one, len(chosen)), (found, expected)
                assert pairs_of(masks_raw, len(chosen)) == expected, (masks_raw, expected)
                ratio = statistics.median(ours) / statistics.median(both)
                shown = " ".join(
                    f"{'-'.join(chosen[i] for i in sorted(p))}={n:,}"
                    for p, n in sorted(found.items(), key=lambda kv: sorted(kv[0]))
                )
                print(
                    f"{'-'.join(chosen):<10}{ms(ours):>20}{ms(both):>20}{ms(one):>22}"
                    f"{ratio:>9.1f}x{ms(raw):>20}  {shown}"
                )
    finally:
        databases.drop_postgres_database(url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profiles", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print_facts(("duckdb",))
    for profiles in args.profiles:
        run_size(profiles, args.runs)


if __name__ == "__main__":
    main()
