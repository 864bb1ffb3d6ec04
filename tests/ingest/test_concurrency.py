"""Concurrent loads on PostgreSQL: two loads at once, each in its own engine and session
(as two CLI runs or two API jobs would be). Both finish, and the end state is one of
the two orders in which they could have run, never a mix."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from endcap.ingest.service import IngestService
from tests.ingest.support import Db, make_settings, write

pytestmark = pytest.mark.postgres

TX_HEADER = "transaction_id,line_no,occurred_at,sku,quantity,sales_value,customer_id,store_id\n"


def lines(prefix: str, numbers: range, quantity: int) -> str:
    return "".join(
        f"{prefix}{n},1,2024-03-01T10:00:00Z,SKU{n % 3 + 1},{quantity},{quantity * 10},"
        f"C{n % 3 + 1},S1\n"
        for n in numbers
    )


async def test_two_loads_of_the_same_entity_at_once_both_finish_consistently(
    db: Db, tmp_path: Path
) -> None:
    await db.seed_catalog(tmp_path)
    # 300 lines each, 100 of them (T200..T299) in both files with different quantities.
    first = write(tmp_path / "a.csv", TX_HEADER + lines("T", range(0, 300), 1))
    second = write(tmp_path / "b.csv", TX_HEADER + lines("T", range(200, 500), 2))
    other = Db(db.url)
    try:
        report_a, report_b = await asyncio.gather(
            db.load("transactions", first), other.load("transactions", second)
        )
    finally:
        await other.engine.dispose()

    assert (report_a.status, report_b.status) == ("loaded", "loaded")
    assert report_a.rows_inserted + report_b.rows_inserted == 500
    assert await db.count("transactions") == 500
    quantities = (
        "SELECT quantity, count(*) FROM transactions "
        "WHERE CAST(substr(transaction_id, 2) AS integer) BETWEEN :low AND :high GROUP BY 1"
    )
    if report_a.rows_inserted == 300:  # a ran first; b then updated the overlap
        assert (report_b.rows_inserted, report_b.rows_updated) == (200, 100)
        overlap = 2
    else:  # b ran first
        assert (report_a.rows_inserted, report_a.rows_updated) == (200, 100)
        assert (report_b.rows_inserted, report_b.rows_updated) == (300, 0)
        overlap = 1
    # The overlap holds the values of the load that ran last; the rest, of its own file.
    assert await db.rows(quantities, low=200, high=299) == [(overlap, 100)]
    assert await db.rows(quantities, low=0, high=199) == [(1, 200)]
    assert await db.rows(quantities, low=300, high=499) == [(2, 200)]


async def test_the_same_file_loaded_twice_at_once_is_applied_once(db: Db, tmp_path: Path) -> None:
    await db.seed_catalog(tmp_path)
    path = write(tmp_path / "tx.csv", TX_HEADER + lines("T", range(400), 1))
    other = Db(db.url)
    try:
        reports = await asyncio.gather(
            db.load("transactions", path), other.load("transactions", path)
        )
    finally:
        await other.engine.dispose()
    assert sorted((r.status, r.rows_inserted, r.rows_updated) for r in reports) == [
        ("loaded", 0, 0),
        ("loaded", 400, 0),
    ]
    assert await db.count("transactions") == 400


async def test_concurrent_customer_and_identifier_loads_leave_one_profile_per_chain(
    db: Db, tmp_path: Path
) -> None:
    await db.seed_catalog(tmp_path)
    customers_a = write(
        tmp_path / "ca.csv", "customer_id\n" + "".join(f"A{n}\n" for n in range(100))
    )
    customers_b = write(
        tmp_path / "cb.csv", "customer_id\n" + "".join(f"B{n}\n" for n in range(100))
    )
    # C1 and C2 share an e-mail: one chain.
    identifiers = write(
        tmp_path / "ids.csv",
        "customer_id,id_type,id_value\nC1,email,pat@example.com\nC2,email,PAT@example.com\n",
    )
    engines = [Db(db.url) for _ in range(2)]
    try:
        reports = await asyncio.gather(
            db.load("customers", customers_a),
            engines[0].load("customers", customers_b),
            engines[1].load("identifiers", identifiers),
        )
    finally:
        for other in engines:
            await other.engine.dispose()

    assert [r.status for r in reports] == ["loaded", "loaded", "loaded"]
    assert await db.count("customers") == 203
    assert await db.scalar("SELECT count(*) FROM customers WHERE profile_id IS NULL") == 0
    # 203 records, C1 and C2 one person: 202 profiles, each with a customer.
    assert await db.count("profiles") == 202
    assert await db.scalar("SELECT count(DISTINCT profile_id) FROM customers") == 202
    assert (
        await db.scalar(
            "SELECT count(DISTINCT profile_id) FROM customers WHERE customer_id IN ('C1', 'C2')"
        )
        == 1
    )


async def test_a_transaction_load_waits_for_key_chains_being_resolved(
    db: Db, tmp_path: Path
) -> None:
    """Lines take their customer's profile; a merge in flight must not leave them behind."""
    await db.seed_catalog(tmp_path)
    settings = make_settings()
    identifiers = write(
        tmp_path / "ids.csv",
        "customer_id,id_type,id_value\nC1,email,pat@example.com\nC2,email,pat@example.com\n",
    )
    tx = write(tmp_path / "tx.csv", TX_HEADER + lines("T", range(30), 1))
    other = Db(db.url)

    async def load_lines() -> str:
        async with other.sessions() as session:
            report = await IngestService(session, settings).load("transactions", tx)
            await session.commit()
        return report.status

    try:
        async with db.sessions() as session:
            merged = await IngestService(session, settings).load("identifiers", identifiers)
            assert merged.resolution is not None
            assert merged.resolution["merges"] == 1
            waiting = asyncio.create_task(load_lines())
            await asyncio.sleep(1.0)
            assert not waiting.done()  # held until the merge is committed
            await session.commit()
        assert await waiting == "loaded"
    finally:
        await other.engine.dispose()

    assert await db.count("transactions") == 30
    # Every line is on its customer's current profile; none on the merged-away one.
    assert (
        await db.scalar(
            "SELECT count(*) FROM transactions t JOIN customers c ON c.customer_id = t.customer_id "
            "WHERE t.profile_id IS DISTINCT FROM c.profile_id"
        )
        == 0
    )
    assert (
        await db.scalar(
            "SELECT count(*) FROM transactions t WHERE NOT EXISTS "
            "(SELECT 1 FROM profiles p WHERE p.id = t.profile_id)"
        )
        == 0
    )
