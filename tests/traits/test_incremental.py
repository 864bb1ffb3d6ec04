"""An incremental trait refresh gives exactly what a full rebuild gives, for less work.

A synthetic retailer is loaded except its last days; a full refresh runs; then
the last days arrive together with late lines from months ago, a corrected line
and a new identifier that merges two shoppers. The incremental refresh that
follows must recompute only some profiles, and leave every traits and spend row
equal to what a full rebuild then computes from scratch.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings
from endcap.ingest.service import IngestService
from endcap.synthetic import generate
from endcap.traits.service import RefreshMode, TraitsService

PROFILES = 800
LAST_DAYS = 3


def _split(transactions: Path, folder: Path) -> tuple[Path, Path, int]:
    """History up to the last days, and a later file: the last days, 25 late lines from
    months back, and one earlier line again with a corrected value."""
    with transactions.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    newest = max(datetime.fromisoformat(r["occurred_at"]) for r in rows)
    cut = newest - timedelta(days=LAST_DAYS)
    early = [r for r in rows if datetime.fromisoformat(r["occurred_at"]) <= cut]
    late = [r for r in rows if datetime.fromisoformat(r["occurred_at"]) > cut]
    known = [r for r in early if r["customer_id"]]
    arriving_late = known[1000:1025]  # lines from months ago that only arrive now
    corrected = {**known[2000], "sales_value": "999.99"}
    history = [r for r in early if r not in arriving_late]
    paths = (folder / "history.csv", folder / "later.csv")
    for path, part in zip(paths, (history, [*late, *arriving_late, corrected]), strict=True):
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part)
    return paths[0], paths[1], len(late)


def _customer_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [row["customer_id"] for row in csv.DictReader(handle)]


async def _own_the_purchases(session: AsyncSession) -> None:
    """This test's purchases only (the session's changes roll back afterwards)."""
    for statement in (
        "DELETE FROM transactions",
        "DELETE FROM profile_spend",
        "DELETE FROM profile_traits",
        "DELETE FROM stale_profiles",
        "DELETE FROM trait_refreshes",
    ):
        await session.execute(text(statement))


async def _snapshot(session: AsyncSession) -> dict[str, list[Any]]:
    traits = await session.execute(text("SELECT * FROM profile_traits ORDER BY profile_id"))
    spend = await session.execute(
        text("SELECT * FROM profile_spend ORDER BY level, key, profile_id")
    )
    return {"traits": [tuple(r) for r in traits], "spend": [tuple(r) for r in spend]}


async def test_incremental_refresh_equals_a_full_rebuild(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await _own_the_purchases(session)
    summary = generate(tmp_path / "shop", PROFILES, seed=31)
    history, later, new_lines = _split(Path(summary.paths["transactions"]), tmp_path)
    ingest = IngestService(session, settings)
    for entity in ("products", "stores", "customers", "identifiers"):
        assert (await ingest.load(entity, Path(summary.paths[entity]))).status == "loaded"
    assert (await ingest.load("transactions", history)).status == "loaded"
    service = TraitsService(session)
    first = await service.refresh()
    assert first.mode == "full"
    assert first.recomputed == first.profiles > 0.8 * PROFILES

    assert (await ingest.load("transactions", later)).status == "loaded"
    # Two shoppers turn out to be one person: a new shared e-mail merges their records.
    pair = _customer_ids(Path(summary.paths["customers"]))[5:7]
    link = tmp_path / "link.csv"
    link.write_text(
        "customer_id,id_type,id_value\n"
        + "".join(f"{c},email,merged.person@example.com\n" for c in pair),
        encoding="utf-8",
    )
    assert (await ingest.load("identifiers", link)).status == "loaded"

    incremental = await service.refresh()

    assert incremental.mode == "incremental"
    assert incremental.as_of is not None
    assert first.as_of is not None
    assert incremental.as_of > first.as_of
    assert 0 < incremental.recomputed < 0.6 * incremental.profiles
    assert incremental.recomputed >= min(new_lines, 26) // 10  # it did recompute someone
    stale_left = await session.execute(text("SELECT count(*) FROM stale_profiles"))
    assert stale_left.scalar_one() == 0
    after_incremental = await _snapshot(session)

    full = await service.refresh(mode=RefreshMode.FULL)

    assert full.mode == "full"
    assert full.recomputed == full.profiles == incremental.profiles
    after_full = await _snapshot(session)
    assert len(after_full["traits"]) == len(after_incremental["traits"])
    assert after_incremental["spend"] == after_full["spend"]
    assert after_incremental["traits"] == after_full["traits"]


async def test_nothing_new_recomputes_nobody(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await _own_the_purchases(session)
    summary = generate(tmp_path / "shop", 300, seed=5)
    ingest = IngestService(session, settings)
    for entity in ("products", "stores", "customers", "identifiers", "transactions"):
        assert (await ingest.load(entity, Path(summary.paths[entity]))).status == "loaded"
    service = TraitsService(session)
    first = await service.refresh()
    before = await _snapshot(session)

    again = await service.refresh()

    assert again.mode == "incremental"
    assert again.recomputed == 0
    assert again.value_model is not None
    assert "unchanged" in again.value_model  # nothing to refit either
    assert again.profiles == first.profiles
    assert await _snapshot(session) == before
