"""A full trait refresh while a shopper is erased: the erasure commits after the refresh
read the purchases, and the refresh must neither fail (its traits would break the foreign
keys to profiles) nor bring the shopper's spend rows back (traits/repository.py
``drop_erased``)."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings
from endcap.db.base import table_of
from endcap.db.engine import SessionFactory
from endcap.ingest.contract import LOAD_ORDER
from endcap.ingest.service import IngestService
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest
from endcap.synthetic import generate
from endcap.traits.models import SPEND_SAMPLE, TRAITS_SAMPLE, ProfileSpend, ProfileTraits
from endcap.traits.repository import TraitsRepository
from endcap.traits.service import RefreshMode, TraitsService
from tests.support.own_database import own_database
from tests.support.retailer import profile_of

TABLES: tuple[Table, ...] = (
    table_of(ProfileTraits),
    table_of(ProfileSpend),
    TRAITS_SAMPLE,
    SPEND_SAMPLE,
)


TABLES_NAMES = tuple(table.name for table in TABLES)

settings, sessions = own_database("endcap_test_erase_race")


async def _retailer(
    settings: Settings, sessions: SessionFactory, folder: Path, *, seed: int
) -> str:
    """400 generated shoppers, loaded and committed; the transactions file's path."""
    summary = generate(folder / "retailer", 400, seed=seed)
    async with sessions() as session:
        for entity in LOAD_ORDER:
            path = Path(summary.paths[entity])
            report = await IngestService(session, settings).load(entity, path)
            assert report.status == "loaded", report.rejections[:3]
        await session.commit()
    return str(summary.paths["transactions"])


def _first_buyer(transactions: str) -> str:
    with Path(transactions).open(encoding="utf-8") as handle:
        return next(r["customer_id"] for r in csv.DictReader(handle) if r["customer_id"])


async def _rows_of(session: AsyncSession, profile_id: int) -> dict[str, int]:
    found = {}
    for table in TABLES:
        query = select(func.count()).select_from(table).where(table.c.profile_id == profile_id)
        found[table.name] = int((await session.execute(query)).scalar_one())
    return found


@pytest.mark.postgres
async def test_a_shopper_erased_during_a_full_refresh_is_left_out_and_the_refresh_succeeds(
    settings: Settings, sessions: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions = await _retailer(settings, sessions, tmp_path, seed=5)
    customer = _first_buyer(transactions)
    async with sessions() as session:
        erased = await profile_of(session, customer)
        # A sample of about 50: its traits have a foreign key to profiles too.
        await TraitsService(session, sample_profiles=50).refresh(mode=RefreshMode.FULL)
        await session.commit()
        before = await _rows_of(session, erased)
    assert before["profile_traits"] == 1
    assert before["profile_spend"] > 0

    rebuild_spend = TraitsRepository.rebuild_spend

    async def then_erase(self: TraitsRepository, *args: Any, **kwargs: Any) -> Any:
        built = await rebuild_spend(self, *args, **kwargs)
        async with sessions() as other:  # commits while the refresh is still open
            await ErasureService(other, settings).erase(
                ErasureRequest(customer_id=customer), requested_by=None
            )
            await other.commit()
        return built

    monkeypatch.setattr(TraitsRepository, "rebuild_spend", then_erase)
    async with sessions() as session:
        report = await TraitsService(session, sample_profiles=50).refresh(mode=RefreshMode.FULL)
        await session.commit()
    monkeypatch.undo()

    async with sessions() as session:
        assert await _rows_of(session, erased) == dict.fromkeys(before, 0)
        traits = table_of(ProfileTraits)
        left = (await session.execute(select(func.count()).select_from(traits))).scalar_one()
    assert report.profiles == left > 0
    assert report.spend_rows["category"] > 0


def _one_more_line(transactions: str, customer: str, folder: Path) -> Path:
    """A new day's line for ``customer``: the next incremental refresh recomputes them."""
    with Path(transactions).open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    last = max(rows, key=lambda r: r["occurred_at"])
    line = {**next(r for r in rows if r["customer_id"] == customer)}
    line.update(transaction_id="T-later", line_no="1", occurred_at=last["occurred_at"])
    path = folder / "later.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerow(line)
    return path


@pytest.mark.postgres
async def test_an_erasure_waiting_on_an_incremental_refresh_still_takes_the_rows_it_wrote(
    settings: Settings, sessions: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh rewrites the shopper's spend rows; the erasure, begun meanwhile, waits
    on them and cannot see the new ones. It deletes them once the profile is gone."""
    transactions = await _retailer(settings, sessions, tmp_path, seed=6)
    async with sessions() as session:
        await TraitsService(session, sample_profiles=0).refresh(mode=RefreshMode.FULL)
        await session.commit()
    customer = _first_buyer(transactions)
    later = _one_more_line(transactions, customer, tmp_path)
    async with sessions() as session:
        erased = await profile_of(session, customer)
        assert (await IngestService(session, settings).load("transactions", later)).status == (
            "loaded"
        )
        await session.commit()

    rebuild_spend = TraitsRepository.rebuild_spend
    erasing: list[asyncio.Task[None]] = []

    async def erase() -> None:
        async with sessions() as other:
            await ErasureService(other, settings).erase(
                ErasureRequest(customer_id=customer), requested_by=None
            )
            await other.commit()

    async def then_erase(self: TraitsRepository, *args: Any, **kwargs: Any) -> Any:
        built = await rebuild_spend(self, *args, **kwargs)
        erasing.append(asyncio.create_task(erase()))
        await asyncio.sleep(0.5)  # the erasure reaches the rows this refresh rewrote
        assert not erasing[0].done()
        return built

    monkeypatch.setattr(TraitsRepository, "rebuild_spend", then_erase)
    async with sessions() as session:
        report = await TraitsService(session, sample_profiles=0).refresh(
            mode=RefreshMode.INCREMENTAL
        )
        await session.commit()
    monkeypatch.undo()
    await asyncio.wait_for(erasing[0], timeout=30)

    assert report.mode == "incremental"
    assert report.recomputed >= 1
    async with sessions() as session:
        assert await _rows_of(session, erased) == dict.fromkeys(TABLES_NAMES, 0)
