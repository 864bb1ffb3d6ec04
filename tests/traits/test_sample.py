"""The estimate sample: exactly the hashed share of the profiles, kept in step by full and
incremental refreshes and by erasure, and estimates from it that bracket the exact count."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from sqlalchemy import literal, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.estimate import SHARE_SLOTS, estimate_rule, estimate_size, members_query
from endcap.config import Settings
from endcap.ingest.service import IngestService
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest
from endcap.privacy.sensitive import SensitiveCategories
from endcap.synthetic import generate
from endcap.traits.models import CATEGORY_SPEND
from endcap.traits.sample import SLOTS, in_sample, is_sampled, share_for, slot, slot_of
from endcap.traits.service import TraitsService
from tests.traits.shop import merge_two_shoppers, own_the_purchases, split_history

PROFILES = 800
TARGET = 100  # 800 profiles with traits or a few fewer: a share of 1/4 (about 200 sampled)
NOTHING_SENSITIVE = SensitiveCategories(departments=(), categories=())


@hypothesis_settings(max_examples=300, deadline=None)
@given(universe=st.integers(0, 10**9), target=st.integers(0, 10**7))
def test_the_share_is_the_largest_power_of_two_leaving_the_target(
    universe: int, target: int
) -> None:
    share = share_for(universe, target)
    if target == 0 or universe < 2 * target:
        assert share is None
        return
    assert share is not None
    assert (1 / share).is_integer()
    assert int(1 / share) & (int(1 / share) - 1) == 0
    assert target <= universe * share < 2 * target


async def test_the_database_samples_the_ids_python_does(session: AsyncSession) -> None:
    ids = [1, 2, 3, 7, 8, 1000, 123_456, 2**31 - 1, 2**31, 5 * 10**9]
    for share in (0.5, 0.125, 2.0**-10):
        query = select(*(in_sample(literal(i), share) for i in ids))
        found = (await session.execute(query)).one()
        assert [bool(v) for v in found] == [is_sampled(i, share) for i in ids]


async def test_the_database_gives_the_slots_python_does(session: AsyncSession) -> None:
    for share in (0.5, 1 / 16):
        # Ids past 2**31 too (the hash takes them modulo 2**31 first); only sampled ones.
        starts = (1, 2**31, 5 * 10**9)
        ids = [i for s in starts for i in range(s, s + 2000) if is_sampled(i, share)][::7]
        assert sum(i >= 2**31 for i in ids) >= 20
        query = select(*(slot_of(literal(i), share) for i in ids))
        found = (await session.execute(query)).one()
        assert [int(v) for v in found] == [slot(i, share) for i in ids]
        assert {slot(i, share) for i in ids} == set(range(SLOTS))


@hypothesis_settings(max_examples=50, deadline=None)
@given(k=st.integers(0, 8), start=st.integers(1, 10**9))
def test_the_slots_cut_the_sample_into_even_parts(k: int, start: int) -> None:
    """Each slot holds about 1/SLOTS of the sampled ids, and the first m slots are the
    sample at m/SLOTS of the share: a uniform sample of their own."""
    share = 2.0**-k
    ids = [i for i in range(start, start + 64_000 * 2**k // 64) if is_sampled(i, share)]
    counts = [0] * SLOTS
    for i in ids:
        counts[slot(i, share)] += 1
    assert all(abs(c - len(ids) / SLOTS) <= 4 for c in counts)  # of about 125 each
    for m in (1, SHARE_SLOTS):
        first = {i for i in ids if slot(i, share) < m}
        assert first == {i for i in ids if is_sampled(i, share * m / SLOTS)}


def test_the_hash_samples_about_the_share_of_consecutive_ids() -> None:
    for share in (0.5, 0.125, 1 / 64):
        for start in (1, 10**6, 3 * 10**8):
            ids = range(start, start + 64_000)
            taken = sum(is_sampled(i, share) for i in ids)
            assert abs(taken - share * len(ids)) <= 2  # evenly spread: off by rounding only


async def _sample_rows(session: AsyncSession) -> dict[str, list[Any]]:
    traits = await session.execute(text("SELECT * FROM profile_traits_sample ORDER BY profile_id"))
    spend = await session.execute(
        text("SELECT * FROM profile_spend_sample ORDER BY level, key, profile_id")
    )
    return {
        "traits": [_in_cents(dict(r._mapping)) for r in traits],
        "spend": [tuple(r) for r in spend],
    }


def _in_cents(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its category spend in whole cents (SQLite sums binary floats)."""
    for name in CATEGORY_SPEND.values():
        row[name] = Decimal(str(row[name])).quantize(Decimal("0.01"))
    return row


async def _expected_rows(session: AsyncSession, share: float) -> dict[str, list[Any]]:
    """What the sample must hold: the full tables' rows of the profiles the hash picks, the
    traits with each profile's spend in every category (its category rows summed here),
    each row with its profile's slot."""
    traits = await session.execute(text("SELECT * FROM profile_traits ORDER BY profile_id"))
    everyone = await session.execute(
        text("SELECT * FROM profile_spend ORDER BY level, key, profile_id")
    )
    rows = [r for r in everyone if is_sampled(r.profile_id, share)]
    categories: dict[int, list[Any]] = {}
    for r in rows:
        if r.level == "category":
            categories.setdefault(r.profile_id, []).append(r)
    expected = []
    for row in traits:
        if not is_sampled(row.profile_id, share):
            continue
        mine = categories.get(row.profile_id, [])
        expected.append(
            _in_cents(
                {
                    **row._mapping,
                    **{
                        name: sum((Decimal(str(getattr(r, window))) for r in mine), Decimal(0))
                        for window, name in CATEGORY_SPEND.items()
                    },
                    "slot": slot(row.profile_id, share),
                }
            )
        )
    spend = [(*r, slot(r.profile_id, share)) for r in rows]
    return {"traits": expected, "spend": spend}


async def _last_refresh(session: AsyncSession) -> Any:
    found = await session.execute(
        text(
            "SELECT sample_share, sample_profiles, profiles FROM trait_refreshes"
            " ORDER BY finished_at DESC LIMIT 1"
        )
    )
    return found.one()


async def test_refreshes_keep_the_sample_to_the_hashed_profiles(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await own_the_purchases(session)
    summary = generate(tmp_path / "shop", PROFILES, seed=31)
    history, later, _ = split_history(Path(summary.paths["transactions"]), tmp_path)
    ingest = IngestService(session, settings)
    for entity in ("products", "stores", "customers", "identifiers"):
        assert (await ingest.load(entity, Path(summary.paths[entity]))).status == "loaded"
    assert (await ingest.load("transactions", history)).status == "loaded"
    service = TraitsService(session, sample_profiles=TARGET)

    first = await service.refresh()

    share, sampled, universe = await _last_refresh(session)
    assert first.mode == "full"
    assert universe == first.profiles
    assert share == share_for(first.profiles, TARGET) == 0.25
    expected = await _expected_rows(session, share)
    assert sampled == len(expected["traits"])
    assert abs(sampled - share * universe) < 3 * (share * universe) ** 0.5
    assert await _sample_rows(session) == expected
    assert len(expected["spend"]) > 10 * sampled  # spend rows came along, several each

    # New days, late lines and a merge: an incremental refresh replaces changed rows only.
    assert (await ingest.load("transactions", later)).status == "loaded"
    await merge_two_shoppers(ingest, Path(summary.paths["customers"]), tmp_path)
    again = await service.refresh()

    assert again.mode == "incremental"
    share, sampled, universe = await _last_refresh(session)
    assert share == 0.25
    expected = await _expected_rows(session, share)
    assert await _sample_rows(session) == expected
    assert sampled == len(expected["traits"])

    # Erasure takes a shopper out of the sample with everything else.
    victim = expected["traits"][0]["profile_id"]
    named = await session.execute(
        text("SELECT customer_id FROM customers WHERE profile_id = :p LIMIT 1"), {"p": victim}
    )
    request = ErasureRequest(customer_id=named.scalar_one())
    await ErasureService(session, settings).erase(request, requested_by=None)
    left = await _sample_rows(session)
    assert all(row["profile_id"] != victim for row in left["traits"])
    assert all(row[0] != victim for row in left["spend"])
    assert len(left["traits"]) == sampled - 1


async def test_sampled_estimates_bracket_the_exact_count(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await own_the_purchases(session)
    summary = generate(tmp_path / "shop", PROFILES, seed=31)
    ingest = IngestService(session, settings)
    for entity in ("products", "stores", "customers", "identifiers", "transactions"):
        assert (await ingest.load(entity, Path(summary.paths[entity]))).status == "loaded"
    await TraitsService(session, sample_profiles=TARGET).refresh()
    share, sampled, universe = await _last_refresh(session)
    sampled_ids = [r["profile_id"] for r in (await _sample_rows(session))["traits"]]
    assert len(sampled_ids) == sampled
    milk_brand = await session.execute(
        text(
            "SELECT b.name FROM brands b JOIN products p ON p.brand_id = b.id"
            " WHERE p.category = 'Milk' GROUP BY b.name ORDER BY count(*) DESC, b.name LIMIT 1"
        )
    )
    rules = [
        {
            "units": {"level": "category", "name": "Milk"},
            "within_weeks": 13,
            "op": ">=",
            "value": 2,
        },
        {
            "share_of_category": {"level": "brand", "name": milk_brand.scalar_one()},
            "within_weeks": 52,
            "op": ">=",
            "value": 0.3,
        },
        {"trait": "spend_52w", "op": ">", "value": 500},
        {
            "and": [
                {"trait": "baskets_52w", "op": ">=", "value": 5},
                {"bought": {"level": "department", "name": "Dairy & Chilled"}, "within_weeks": 13},
            ]
        },
        {
            "or": [
                {"value_tier": ["top", "high"]},
                {"trait": "online_share", "op": ">", "value": 0.3},
            ]
        },
    ]
    for rule in rules:
        members = await members_query(session, rule, sensitive=NOTHING_SENSITIVE)
        ids = set((await session.execute(members)).scalars())
        exact = await estimate_size(session, rule, sensitive=NOTHING_SENSITIVE)
        found = await estimate_rule(session, rule, sensitive=NOTHING_SENSITIVE)
        forced = await estimate_rule(session, rule, sensitive=NOTHING_SENSITIVE, exact=True)

        assert len(ids) == exact
        assert 0 < exact < universe, rule  # a rule that selects some, not a trivial one
        assert not found.exact
        # A rule with a share is counted on the first half of the sample's slots.
        slots = SHARE_SLOTS if "share_of_category" in rule else SLOTS
        counted = sum(1 for i in sampled_ids if slot(i, share) < slots)
        assert found.sampled_profiles == counted
        assert counted == sampled if slots == SLOTS else 0.3 * sampled < counted < 0.7 * sampled
        # It counted exactly the members the hash samples, and scaled them up.
        hits = sum(is_sampled(i, share) and slot(i, share) < slots for i in ids)
        assert found.size == round(hits / counted * universe)
        interval = binomtest(hits, counted).proportion_ci(0.95, method="wilson")
        assert found.low == math.floor(interval.low * universe)
        assert found.high == math.ceil(interval.high * universe)
        assert found.low <= found.size <= found.high
        # A uniform sample: the estimate is off by less than four standard errors (an
        # interval check at 95% would fail one run in twenty on its own).
        p = exact / universe
        assert abs(found.size - exact) <= 4 * math.sqrt(p * (1 - p) / counted) * universe + 1
        assert (forced.size, forced.low, forced.high, forced.exact) == (exact, exact, exact, True)
