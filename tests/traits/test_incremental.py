"""An incremental trait refresh gives exactly what a full rebuild gives, for less work.

A synthetic retailer is loaded except its last days; a full refresh runs; then
the last days arrive together with late lines from months ago, a corrected line
and a new identifier that merges two shoppers. The incremental refresh that
follows must recompute only some profiles, and leave every traits and spend row
equal to what a full rebuild then computes from scratch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings
from endcap.ingest.service import IngestService
from endcap.synthetic import generate
from endcap.traits.service import RefreshMode, TraitsService
from tests.traits.shop import merge_two_shoppers, own_the_purchases, split_history

PROFILES = 800


async def _snapshot(session: AsyncSession) -> dict[str, list[Any]]:
    traits = await session.execute(text("SELECT * FROM profile_traits ORDER BY profile_id"))
    spend = await session.execute(
        text("SELECT * FROM profile_spend ORDER BY level, key, profile_id")
    )
    return {"traits": [tuple(r) for r in traits], "spend": [tuple(r) for r in spend]}


async def test_incremental_refresh_equals_a_full_rebuild(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await own_the_purchases(session)
    summary = generate(tmp_path / "shop", PROFILES, seed=31)
    history, later, new_lines = split_history(Path(summary.paths["transactions"]), tmp_path)
    ingest = IngestService(session, settings)
    for entity in ("products", "stores", "customers", "identifiers"):
        assert (await ingest.load(entity, Path(summary.paths[entity]))).status == "loaded"
    assert (await ingest.load("transactions", history)).status == "loaded"
    service = TraitsService(session)
    first = await service.refresh()
    assert first.mode == "full"
    assert first.recomputed == first.profiles > 0.8 * PROFILES

    assert (await ingest.load("transactions", later)).status == "loaded"
    await merge_two_shoppers(ingest, Path(summary.paths["customers"]), tmp_path)

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
    units = await session.execute(
        text("SELECT sum(units_4w), sum(units_13w), sum(units_52w) FROM profile_spend")
    )
    u4, u13, u52 = units.one()
    assert 0 < u4 < u13 < u52  # every window's units are kept (and compared below)

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
    await own_the_purchases(session)
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
