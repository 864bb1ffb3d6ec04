"""A share of category requirements on the estimate sample, for a seller in most categories:
the sample's spend in every category less the other categories' rows selects exactly the
profiles that summing the seller's own categories selects.

Store sells in Milk, Bread and Cheese; Tea is the one other category in the catalog, and
Soap a category that left the catalog but still has spend rows. The profiles (52 weeks;
spend on Store, then in Milk / Bread / Cheese / Tea / Soap):

    g  Store 30, Milk 20, Bread 20, Cheese 10                  share 30/50 = 0.6
    h  no Store, Milk 10, Tea 40                               share 0/10 = 0
    i  Store 5, Milk 5, Tea 15, Soap 10                        share 5/5 = 1
    j  Tea 25 only                                             no share
    k  no spend rows at all                                    no share
    m  Store 1, Milk 4 (13 weeks: Store 1, Milk 4; 4 weeks none)  share 0.25
    n  a return: Store -2, Milk 8                              share -2/8 = -0.25

Their baskets are 1 to 7 in that order (g 1, ..., n 7).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.estimate import members_query
from endcap.audiences.sources import EVERYONE, SAMPLE
from endcap.privacy.sensitive import SensitiveCategories
from endcap.traits.models import CATEGORY_SPEND
from tests.audiences.data import (
    SPEND,
    TRAITS_TABLE,
    Item,
    build_catalog,
    empty_the_universe,
    insert_rows,
    new_profiles,
    new_tag,
    spend_row,
    traits_row,
)

NOTHING_SENSITIVE = SensitiveCategories(departments=(), categories=())
LABELS = "ghijkmn"
STORE_IN = ("Milk", "Bread", "Cheese")


class Shop:
    def __init__(self, store: dict[str, str], ids: dict[str, int]) -> None:
        self.store = store
        self.ids = ids

    def labels(self, found: set[int]) -> str:
        return "".join(label for label, i in self.ids.items() if i in found)


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    await empty_the_universe(session)
    tag = new_tag()
    name = {base: f"{base} {tag}" for base in ("Food", "Milk", "Bread", "Cheese", "Tea")}
    soap = f"Soap {tag}"  # no product left in the catalog
    items = [Item(name["Food"], name[c], f"Store {tag}", f"Grocer {tag}") for c in STORE_IN]
    items.append(Item(name["Food"], name["Tea"], f"Leaf {tag}", f"Leaf Co {tag}"))
    brand_ids = await build_catalog(session, items)
    store = str(brand_ids[(f"Store {tag}", f"Grocer {tag}")])
    ids = dict(zip(LABELS, await new_profiles(session, len(LABELS)), strict=True))
    g, h, i, j, m, n = (ids[x] for x in "ghijmn")
    rows = [
        spend_row(g, "brand", store, 0, 30, 30),
        spend_row(g, "category", name["Milk"], 0, 20, 20),
        spend_row(g, "category", name["Bread"], 0, 0, 20),
        spend_row(g, "category", name["Cheese"], 0, 10, 10),
        spend_row(h, "category", name["Milk"], 0, 0, 10),
        spend_row(h, "category", name["Tea"], 0, 40, 40),
        spend_row(i, "brand", store, 5, 5, 5),
        spend_row(i, "category", name["Milk"], 5, 5, 5),
        spend_row(i, "category", name["Tea"], 15, 15, 15),
        spend_row(i, "category", soap, 10, 10, 10),
        spend_row(j, "category", name["Tea"], 0, 0, 25),
        spend_row(m, "brand", store, 0, 1, 1),
        spend_row(m, "category", name["Milk"], 0, 4, 4),
        spend_row(n, "brand", store, 0, 0, -2),
        spend_row(n, "category", name["Milk"], 0, 0, 8),
    ]
    # Baskets 1 to 7 in label order: a trait condition beside a share filters by them.
    traits = [traits_row(i, baskets_52w=n) for n, i in enumerate(ids.values(), start=1)]
    await insert_rows(session, TRAITS_TABLE, traits)
    await insert_rows(session, SPEND, rows)
    # The sample: every profile, with its spend in every category as a refresh sums it.
    # All in slot 0: this module reads the sample whole (test_property reads parts).
    sampled = [{**_with_category_spend(t, rows), "slot": 0} for t in traits]
    await insert_rows(session, SAMPLE.traits, sampled)
    await insert_rows(session, SAMPLE.spend, [{**r, "slot": 0} for r in rows])
    return Shop({"level": "brand", "name": f"Store {tag}"}, ids)


def _with_category_spend(traits: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [r for r in rows if r["profile_id"] == traits["profile_id"] and r["level"] == "category"]
    return {
        **traits,
        **{
            name: sum((Decimal(str(r[window])) for r in mine), Decimal(0))
            for window, name in CATEGORY_SPEND.items()
        },
    }


def share(target: dict[str, str], weeks: int, op: str, value: Any) -> dict[str, Any]:
    return {"share_of_category": target, "within_weeks": weeks, "op": op, "value": value}


async def selected(session: AsyncSession, shop: Shop, rule: object, *, sample: bool) -> str:
    sources = SAMPLE if sample else EVERYONE
    query = await members_query(session, rule, sensitive=NOTHING_SENSITIVE, sources=sources)
    return shop.labels({int(row[0]) for row in (await session.execute(query)).all()})


async def test_the_sample_reads_the_other_categories_and_selects_the_same(
    session: AsyncSession, shop: Shop
) -> None:
    store = shop.store
    cases: list[tuple[dict[str, Any], str]] = [
        (share(store, 52, ">=", 0.5), "gi"),
        (share(store, 52, ">", 0.6), "i"),
        (share(store, 52, ">=", 0.6), "gi"),
        (share(store, 52, "<", 0.5), "hmn"),  # h: 0 of 10; j and k have no share
        (share(store, 52, "<=", 0), "hn"),
        (share(store, 52, "<", 0), "n"),  # a return: below 0
        (share(store, 52, ">=", 0), "ghim"),
        (share(store, 52, "between", [0, 0.25]), "hm"),
        (share(store, 52, "between", [0.25, 1]), "gim"),
        (share(store, 13, ">=", 0.25), "gim"),  # g: 30 of 30 in 13 weeks
        (share(store, 13, "<", 0.25), ""),  # h has no Milk in 13 weeks: no share
        (share(store, 4, ">=", 1), "i"),
        (share(store, 4, "<", 1), ""),
        ({"not": share(store, 52, ">=", 0.5)}, "hjkmn"),
        ({"and": [share(store, 52, "<", 1), share(store, 52, ">", 0)]}, "gm"),
    ]
    on_sample = [(rule, await selected(session, shop, rule, sample=True)) for rule, _ in cases]
    everyone = [(rule, await selected(session, shop, rule, sample=False)) for rule, _ in cases]
    assert on_sample == cases
    assert everyone == cases


async def test_the_sample_reads_the_other_categories_only_for_a_seller_in_most(
    session: AsyncSession, shop: Shop
) -> None:
    """Store is in three of the five categories with rows: the sample reads Tea and Soap and
    the sampled traits' spend in every category; Leaf, in one, sums Tea as everywhere."""

    async def sql(target: dict[str, str]) -> str:
        rule = share(target, 52, ">=", 0.5)
        query = await members_query(session, rule, sensitive=NOTHING_SENSITIVE, sources=SAMPLE)
        return str(query.compile(dialect=postgresql.dialect()))

    assert CATEGORY_SPEND["spend_52w"] in await sql(shop.store)
    leaf = {"level": "brand", "name": shop.store["name"].replace("Store", "Leaf")}
    assert CATEGORY_SPEND["spend_52w"] not in await sql(leaf)


async def test_a_share_the_whole_rule_requires_selects_as_the_same_share_nested(
    session: AsyncSession, shop: Shop
) -> None:
    """A share alone or in the rule's top-level ``and`` is compiled as a join grouped on the
    traits (HAVING); under ``or`` or ``not`` it stays a semi-join (EXISTS). Both select the
    same profiles, on the sample (Store reads the other categories there: with a left join
    where a share of 0 passes) and on everyone's tables (Leaf sums its own category)."""
    store = shop.store
    leaf = {"level": "brand", "name": store["name"].replace("Store", "Leaf")}
    at_least_3 = {"trait": "baskets_52w", "op": ">=", "value": 3}  # not g nor h
    cases: list[tuple[dict[str, Any], str]] = [
        (share(store, 52, ">=", 0.5), "gi"),
        (share(store, 52, "<", 0.5), "hmn"),  # a share of 0 passes: h has no Store rows
        (share(store, 52, "<=", 0), "hn"),
        (share(store, 13, ">=", 0.25), "gim"),
        (share(leaf, 52, "<=", 0), "hij"),  # Leaf is in Tea only, and nobody bought it
        ({"and": [share(store, 52, "<", 0.5), at_least_3]}, "mn"),
        ({"and": [at_least_3, {"and": [share(store, 52, ">=", 0.25)]}]}, "im"),
        ({"and": [share(store, 52, "<", 0.5), {"not": share(store, 52, "<=", 0)}]}, "m"),
    ]

    def nested(rule: dict[str, Any]) -> dict[str, Any]:
        return {"or": [rule]}

    for sample in (True, False):
        sources = SAMPLE if sample else EVERYONE
        for rule, expected in cases:
            for form in (rule, nested(rule), {"not": {"not": rule}}):
                found = await selected(session, shop, form, sample=sample)
                assert found == expected, (form, sample)
            top = await members_query(session, rule, sensitive=NOTHING_SENSITIVE, sources=sources)
            under_or = await members_query(
                session, nested(rule), sensitive=NOTHING_SENSITIVE, sources=sources
            )
            assert "HAVING" in str(top.compile(dialect=postgresql.dialect()))
            assert "HAVING" not in str(under_or.compile(dialect=postgresql.dialect()))
