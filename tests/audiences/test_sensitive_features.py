"""No model feature sums a sensitive purchase: not a category column (those are refused or
left out), and not the totals either, which less the categories a model sees would be
exactly the sensitive spend (audiences/features.py ``Excluded``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.features import BASE_FEATURES, Excluded, FeatureRepository, SpendColumn
from endcap.audiences.modelled import sensitive_lines
from endcap.config import DatabaseSettings, Settings
from endcap.identity.repository import IdentityRepository
from endcap.ingest.service import IngestService
from endcap.privacy.sensitive import SensitiveCategories

TAG = uuid.uuid4().hex[:6]
CUTOFF = datetime(2026, 6, 1, tzinfo=UTC)
FILES = {
    "products": (
        "sku,name,brand,manufacturer,category,department\n"
        f"{TAG}-coffee,Coffee,Brew {TAG},Brew Co {TAG},Coffee {TAG},Pantry {TAG}\n"
        f"{TAG}-beer,Beer,Cheers {TAG},Cheers Co {TAG},Beer {TAG},Alcohol\n"
        f"{TAG}-ice,Ice cream,Cold {TAG},Cold Co {TAG},Ice Cream {TAG},Frozen {TAG}\n"
        # One category name on two shelves, one of them sensitive.
        f"{TAG}-chips,Chips,Crisp {TAG},Crisp Co {TAG},Snacks {TAG},Pantry {TAG}\n"
        f"{TAG}-nuts,Bar nuts,Crisp {TAG},Crisp Co {TAG},Snacks {TAG},Alcohol\n"
    ),
    "customers": "customer_id\n" + "".join(f"{TAG}-{s}\n" for s in "abcd"),
    "identifiers": "customer_id,id_type,id_value\n"
    + "".join(f"{TAG}-{s},loyalty_card,L{TAG}{s}\n" for s in "abcd"),
    # a: Coffee 10, with Ice Cream 7 in the same basket, and Beer 50 in another; b: the
    # same Coffee alone; c: only Beer; d: Snacks 10 from Pantry and 90 from Alcohol.
    "transactions": (
        "transaction_id,line_no,occurred_at,sku,quantity,sales_value,customer_id,channel\n"
        f"{TAG}-1,1,2026-05-20T10:00:00Z,{TAG}-coffee,1,10.00,{TAG}-a,store\n"
        f"{TAG}-1,2,2026-05-20T10:00:00Z,{TAG}-ice,1,7.00,{TAG}-a,store\n"
        f"{TAG}-2,1,2026-05-21T10:00:00Z,{TAG}-beer,2,50.00,{TAG}-a,online\n"
        f"{TAG}-3,1,2026-05-20T10:00:00Z,{TAG}-coffee,1,10.00,{TAG}-b,store\n"
        f"{TAG}-4,1,2026-05-22T10:00:00Z,{TAG}-beer,1,30.00,{TAG}-c,store\n"
        f"{TAG}-5,1,2026-05-22T10:00:00Z,{TAG}-chips,1,10.00,{TAG}-d,store\n"
        f"{TAG}-5,2,2026-05-22T10:00:00Z,{TAG}-nuts,1,90.00,{TAG}-d,store\n"
    ),
}


async def _shoppers(session: AsyncSession, database: DatabaseSettings, folder: Path) -> list[int]:
    settings = Settings()
    settings.database = database
    for entity, body in FILES.items():
        path = folder / f"{entity}.csv"
        path.write_text(body, encoding="utf-8")
        report = await IngestService(session, settings).load(entity, path)
        assert report.status == "loaded", report.rejections[:3]
    identity = IdentityRepository(session)
    shoppers = []
    for s in "abcd":
        customer = await identity.customer(f"{TAG}-{s}")
        assert customer is not None
        assert customer.profile_id is not None
        shoppers.append(customer.profile_id)
    return shoppers


async def test_the_totals_leave_out_sensitive_lines_and_keep_the_shopper(
    session: AsyncSession, database_settings: DatabaseSettings, tmp_path: Path
) -> None:
    a, b, c, _ = await _shoppers(session, database_settings, tmp_path)
    features = FeatureRepository(session)
    policy = SensitiveCategories(departments=("Alcohol",), categories=(f"ice cream {TAG}",))
    excluded = sensitive_lines(await features.category_tree(), policy)
    assert "Alcohol" in excluded.departments
    assert f"Ice Cream {TAG}" in excluded.categories  # the catalog's spelling
    assert all(TAG not in name for name in excluded.departments)
    assert f"Coffee {TAG}" not in excluded.categories
    coffee = [SpendColumn(f"category:Coffee {TAG}", (f"Coffee {TAG}",))]

    def rows(frame_ids: np.ndarray, matrix: np.ndarray) -> dict[int, list[float]]:
        return {int(i): matrix[int(np.searchsorted(frame_ids, i))].tolist() for i in (a, b, c)}

    seen = await features.frame(CUTOFF, coffee, excluded=Excluded())
    everything = rows(seen.profile_ids, seen.matrix)
    named = dict(zip(seen.names, everything[a], strict=True))
    assert named["spend_52w"] == 67.0  # the check below could not pass by accident
    assert named["online_spend_52w"] == 50.0

    kept = await features.frame(CUTOFF, coffee, excluded=excluded)
    shown = rows(kept.profile_ids, kept.matrix)
    # a and b bought the same outside the sensitive shelves: the model cannot tell them apart.
    assert shown[a] == shown[b]
    assert dict(zip(kept.names, shown[a], strict=True)) == {
        **dict.fromkeys(BASE_FEATURES, 0.0),
        "spend_4w": 10.0,
        "spend_13w": 10.0,
        "spend_52w": 10.0,
        "baskets_52w": 1.0,
        "units_52w": 1.0,
        f"category:Coffee {TAG}": 10.0,
    }
    # c bought only Beer: still in the population, with nothing to go on.
    assert shown[c] == [0.0] * len(kept.names)


async def test_a_category_named_on_a_sensitive_shelf_too_sums_only_the_other_shelf(
    session: AsyncSession, database_settings: DatabaseSettings, tmp_path: Path
) -> None:
    *_, d = await _shoppers(session, database_settings, tmp_path)
    features = FeatureRepository(session)
    excluded = sensitive_lines(await features.category_tree(), SensitiveCategories(("Alcohol",)))
    snacks = [SpendColumn(f"category:Snacks {TAG}", (f"Snacks {TAG}",))]

    frame = await features.frame(CUTOFF, snacks, excluded=excluded)
    found = frame.matrix[int(np.searchsorted(frame.profile_ids, d))].tolist()
    row = dict(zip(frame.names, found, strict=True))
    # Not 100: the column less spend_52w would then be the 90 spent on the Alcohol shelf.
    assert row[f"category:Snacks {TAG}"] == 10.0
    assert row["spend_52w"] == 10.0
