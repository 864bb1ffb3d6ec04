"""Property: on random small shops, the compiled SQL selects exactly the profiles that the
pure-pandas reference evaluator (tests/audiences/reference.py) selects, for random rules.

The catalog is fixed per test (two departments, three categories, a brand name two
makers share, two makers); each example draws up to 30 profiles with traits, spend
and customer records, writes them inside a savepoint, checks a few random rules
and rolls back. Amounts sit on a grid of quarters, so SQLite's binary floats and
PostgreSQL's decimals agree with the reference exactly (a share of category
requirements is a division of such sums in binary floating point everywhere). The
same rows also go into the estimate sample's tables, and the first rule is run
there too. A share is checked on its own and under an ``or`` (the two ways it compiles).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.estimate import estimate_size, members_query
from endcap.audiences.rules import MAX_DEPTH, TRAITS, VALUE_TIERS
from endcap.audiences.sources import SAMPLE
from endcap.privacy.sensitive import SensitiveCategories
from endcap.traits.models import CATEGORY_SPEND
from endcap.traits.sample import SLOTS
from tests.audiences.data import (
    AS_OF,
    CUSTOMERS,
    SPEND,
    TRAITS_TABLE,
    Item,
    build_catalog,
    customer_row,
    empty_the_universe,
    insert_rows,
    issue_cluster_labels,
    new_profiles,
    new_tag,
    spend_row,
    traits_row,
)
from tests.audiences.reference import Frames, members

RULE_DEPTH = 4  # deep enough for and/or/not mixtures; the parser's limit is tested apart
assert RULE_DEPTH <= MAX_DEPTH

QUARTERS = [Decimal(k) / 4 for k in range(41)]  # 0 to 10 by 0.25
EIGHTHS = [k / 8 for k in range(9)]
# Shares a rule compares with: on the eighths a ratio of quarters often hits exactly,
# and tenths, which binary floating point only approximates (a ratio of 3 to 10 too).
SHARES = [*EIGHTHS, 0.1, 0.3, 0.6, 0.7]
AGE_BANDS = ["18-24", "25-34", "35-44"]
NUMBER_TRAITS = {
    "spend_52w": QUARTERS,
    "units_52w": QUARTERS,
    "avg_basket_value": QUARTERS,
    "clv_12m": QUARTERS,
    "online_share": EIGHTHS,
    "promo_share": EIGHTHS,
    "p_alive": EIGHTHS,
    "expected_baskets_12m": EIGHTHS,
    "baskets_52w": list(range(7)),
    "value_cluster": list(range(1, 5)),  # labels 1 to 4 are issued (write_shop)
    "recency_days": list(range(14)),  # the shop's purchases are 0 to 12 days and hours back
    "tenure_days": list(range(26)),
}
NULLABLE = {"clv_12m", "p_alive", "expected_baskets_12m", "value_tier", "value_cluster"}
assert set(NUMBER_TRAITS) | {"value_tier"} == set(TRAITS)


@dataclass(frozen=True)
class World:
    tag: str
    targets: list[dict[str, str]]  # every target a rule may name (the shared brand name oftener)
    keys_of: dict[tuple[str, str, str], list[str]]  # (level, name, maker) → spend keys
    categories_of: dict[tuple[str, str, str], list[str]]  # a brand or maker → its categories
    spend_keys: list[tuple[str, str]]  # (level, key) rows may carry (brand keys oftener)

    @property
    def sellers(self) -> list[dict[str, str]]:
        return [t for t in self.targets if t["level"] in ("brand", "manufacturer")]

    def keys(self, target: dict[str, str]) -> Sequence[str]:
        return self.keys_of[_of(target)]

    def categories(self, target: dict[str, str]) -> Sequence[str]:
        return self.categories_of[_of(target)]


def _of(target: dict[str, str]) -> tuple[str, str, str]:
    name, maker = target["name"].strip().casefold(), target.get("manufacturer", "")
    return (target["level"], name, maker.strip().casefold())


@pytest.fixture
async def world(session: AsyncSession) -> World:
    await empty_the_universe(session)
    tag = new_tag()
    dairy, bakery = f"Dairy {tag}", f"Bakery {tag}"
    milk, cheese, bread = f"Milk {tag}", f"Cheese {tag}", f"Bread {tag}"
    sunny, crust, acme, bolt = f"Sunny {tag}", f"Crust {tag}", f"Acme {tag}", f"Bolt {tag}"
    ids = await build_catalog(
        session,
        [
            Item(dairy, milk, sunny, acme),
            Item(dairy, cheese, sunny, bolt),
            Item(bakery, bread, crust, bolt),
        ],
    )
    sunny_acme, sunny_bolt, crust_bolt = (
        str(ids[(sunny, acme)]),
        str(ids[(sunny, bolt)]),
        str(ids[(crust, bolt)]),
    )
    keys_of: dict[tuple[str, str, str], list[str]] = {}
    for level, names in (
        ("department", [dairy, bakery]),
        ("category", [milk, cheese, bread]),
        ("manufacturer", [acme, bolt]),
    ):
        for name in names:
            keys_of[(level, name.casefold(), "")] = [name]
    keys_of[("brand", sunny.casefold(), "")] = [sunny_acme, sunny_bolt]
    keys_of[("brand", sunny.casefold(), acme.casefold())] = [sunny_acme]
    keys_of[("brand", sunny.casefold(), bolt.casefold())] = [sunny_bolt]
    keys_of[("brand", crust.casefold(), "")] = [crust_bolt]
    categories_of = {
        ("brand", sunny.casefold(), ""): [milk, cheese],
        ("brand", sunny.casefold(), acme.casefold()): [milk],
        ("brand", sunny.casefold(), bolt.casefold()): [cheese],
        ("brand", crust.casefold(), ""): [bread],
        ("manufacturer", acme.casefold(), ""): [milk],
        ("manufacturer", bolt.casefold(), ""): [cheese, bread],
    }
    sunny_by_both = {"level": "brand", "name": sunny}  # two spend keys: sums are per name
    targets = [
        sunny_by_both,
        sunny_by_both,
        sunny_by_both,
        {"level": "department", "name": dairy},
        {"level": "department", "name": bakery},
        {"level": "category", "name": milk},
        {"level": "category", "name": cheese},
        {"level": "category", "name": bread},
        {"level": "brand", "name": sunny, "manufacturer": acme},
        {"level": "brand", "name": sunny, "manufacturer": bolt},
        {"level": "brand", "name": crust},
        {"level": "manufacturer", "name": acme},
        {"level": "manufacturer", "name": bolt},
    ]
    spend_keys = [
        *(("department", k) for k in (dairy, bakery)),
        *(("category", k) for k in (milk, cheese, bread)),
        *(("brand", k) for k in (sunny_acme, sunny_bolt, crust_bolt, sunny_acme, sunny_bolt)),
        *(("manufacturer", k) for k in (acme, bolt)),
    ]
    return World(tag, targets, keys_of, categories_of, spend_keys)


# -- random shops ------------------------------------------------------------------------


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def profile_traits(draw: st.DrawFn) -> dict[str, Any]:
    moments = st.integers(0, 12).map(lambda d: timedelta(days=d)) | st.sampled_from(
        [timedelta(hours=h) for h in (1, 23, 24, 25, 47)]
    )
    last = AS_OF - draw(moments) - draw(st.sampled_from([timedelta(0), timedelta(seconds=1)]))
    return {
        "last_purchase_at": last,
        "first_purchase_at": last - draw(moments),
        "spend_52w": draw(st.sampled_from(QUARTERS)),
        "units_52w": draw(st.sampled_from(QUARTERS)),
        "avg_basket_value": draw(st.sampled_from(QUARTERS)),
        "clv_12m": draw(maybe(st.sampled_from(QUARTERS))),
        "online_share": draw(st.sampled_from(EIGHTHS)),
        "promo_share": draw(st.sampled_from(EIGHTHS)),
        "p_alive": draw(maybe(st.sampled_from(EIGHTHS))),
        "expected_baskets_12m": draw(maybe(st.sampled_from(EIGHTHS))),
        "baskets_52w": draw(st.integers(0, 6)),
        "value_cluster": draw(maybe(st.integers(1, 4))),
        "value_tier": draw(maybe(st.sampled_from(VALUE_TIERS))),
    }


Windows = tuple[Decimal, Decimal, Decimal]


@st.composite
def window_amounts(draw: st.DrawFn) -> Windows:
    """4-, 13- and 52-week amounts, each window holding the shorter ones (often all of it)."""
    w4 = draw(st.sampled_from(QUARTERS[:9]))
    w13 = w4 + draw(st.sampled_from([Decimal(0), Decimal(0), *QUARTERS[1:9]]))
    w52 = w13 + draw(st.sampled_from([Decimal(0), Decimal(0), *QUARTERS[1:9]]))
    return w4, w13, w52


@dataclass(frozen=True)
class ShopData:
    traits: list[dict[str, Any] | None]  # per profile; None: no traits (outside the universe)
    spend: list[list[tuple[tuple[str, str], tuple[Windows, Windows]]]]  # spend, units
    customers: list[list[dict[str, str]]]


def shops(world: World) -> st.SearchStrategy[ShopData]:
    attributes = st.fixed_dictionaries(
        {},
        optional={
            "age_band": st.sampled_from(AGE_BANDS),
            "household_size": st.sampled_from(["1", "2", "3"]),
        },
    )
    profile = st.tuples(
        st.one_of(profile_traits(), profile_traits(), profile_traits(), st.none()),
        st.lists(
            st.tuples(
                st.sampled_from(world.spend_keys), st.tuples(window_amounts(), window_amounts())
            ),
            max_size=5,
            unique_by=lambda row: row[0],
        ),
        st.lists(attributes, max_size=2),
    )
    return st.lists(profile, min_size=8, max_size=30).map(
        lambda people: ShopData(
            [p[0] for p in people], [p[1] for p in people], [p[2] for p in people]
        )
    )


# -- random rules ------------------------------------------------------------------------


def scalar_for(trait: str) -> st.SearchStrategy[Any]:
    if trait == "value_tier":
        return st.sampled_from(VALUE_TIERS)
    values = NUMBER_TRAITS[trait]
    return st.sampled_from(values).map(lambda v: float(v) if isinstance(v, Decimal) else v)


@st.composite
def trait_conditions(draw: st.DrawFn) -> dict[str, Any]:
    # Days oftener: their whole-day boundaries are where a compiler goes wrong.
    trait = draw(st.sampled_from([*sorted(TRAITS), *["recency_days", "tenure_days"] * 3]))
    ops = TRAITS[trait].ops
    op = draw(st.sampled_from([o.value for o in ops]))
    scalar = scalar_for(trait)
    value: Any
    if op == "between":
        value = sorted([draw(scalar), draw(scalar)])
    elif op == "in":
        value = draw(st.lists(scalar, min_size=1, max_size=3))
    else:
        value = draw(scalar)
    return {"trait": trait, "op": op, "value": value}


def spelt(target: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    """The target as written, sometimes in other case or with spaces around."""
    return st.sampled_from([str.strip, str.upper, str.lower, lambda s: f"  {s} "]).map(
        lambda spell: {**target, "name": spell(target["name"])}
    )


@st.composite
def purchase_conditions(draw: st.DrawFn, world: World) -> dict[str, Any]:
    kind = draw(st.sampled_from(["bought", "spent", "units", "new_to", "share_of_category"]))
    targets = world.sellers if kind == "share_of_category" else world.targets
    rule: dict[str, Any] = {
        kind: draw(st.sampled_from(targets).flatmap(spelt)),
        "within_weeks": draw(st.sampled_from([4, 13, 52])),
    }
    if kind in ("spent", "units", "share_of_category"):
        amount = (
            st.sampled_from(SHARES)
            if kind == "share_of_category"
            else st.sampled_from(QUARTERS[:33]).map(float)
        )
        rule["op"] = draw(st.sampled_from([">", ">=", "<", "<=", "between"]))
        rule["value"] = (
            sorted([draw(amount), draw(amount)]) if rule["op"] == "between" else draw(amount)
        )
    return rule


@st.composite
def attribute_conditions(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(["age_band", "household_size", "loyalty_tier"]))
    values: st.SearchStrategy[Any] = (
        st.sampled_from([*AGE_BANDS, "45-54"])
        if name == "age_band"
        else st.sampled_from(["1", "2", "3", 2, 3])
    )
    op = draw(st.sampled_from(["=", "!=", "in"]))
    value = draw(st.lists(values, min_size=1, max_size=3)) if op == "in" else draw(values)
    return {"attribute": name, "op": op, "value": value}


def rules(world: World) -> st.SearchStrategy[dict[str, Any]]:
    condition = st.one_of(
        trait_conditions(),
        purchase_conditions(world),
        purchase_conditions(world),
        st.lists(st.sampled_from(VALUE_TIERS), min_size=1, max_size=3).map(
            lambda tiers: {"value_tier": tiers}
        ),
        st.lists(st.integers(1, 4), min_size=1, max_size=2).map(lambda c: {"cluster": c}),
        attribute_conditions(),
    )
    rule = condition
    for _ in range(RULE_DEPTH - 1):
        inner = rule
        rule = st.one_of(
            condition,
            st.lists(inner, min_size=1, max_size=3).map(lambda rs: {"and": rs}),
            st.lists(inner, min_size=1, max_size=3).map(lambda rs: {"or": rs}),
            inner.map(lambda r: {"not": r}),
        )
    return rule


# -- the property ------------------------------------------------------------------------


async def write_shop(session: AsyncSession, shop: ShopData, world: World) -> Frames:
    ids = await new_profiles(session, len(shop.traits))
    traits = [traits_row(i, **t) for i, t in zip(ids, shop.traits, strict=True) if t is not None]
    spend = [
        spend_row(i, level, key, *amounts, units=units)
        for i, rows in zip(ids, shop.spend, strict=True)
        for (level, key), (amounts, units) in rows
    ]
    customers = [
        customer_row(i, attributes)
        for i, records in zip(ids, shop.customers, strict=True)
        for attributes in records
    ]
    await insert_rows(session, TRAITS_TABLE, traits)
    await insert_rows(session, SPEND, spend)
    await insert_rows(session, CUSTOMERS, customers)
    await issue_cluster_labels(session, 4)
    # The estimate sample's tables hold the same columns; here, every profile. Its traits
    # also hold each profile's spend in every category, as a refresh writes them, and its
    # slot (any will do: the statements read the slots as the tables give them).
    sampled = [{**with_category_spend(t, spend), "slot": slot_of(t)} for t in traits]
    await insert_rows(session, SAMPLE.traits, sampled)
    await insert_rows(session, SAMPLE.spend, [{**r, "slot": slot_of(r)} for r in spend])
    return Frames.of(
        traits, spend, customers, keys=world.keys, categories=world.categories, as_of=AS_OF
    )


def slot_of(row: dict[str, Any]) -> int:
    return int(row["profile_id"]) % SLOTS


def with_category_spend(traits: dict[str, Any], spend: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [
        r for r in spend if r["profile_id"] == traits["profile_id"] and r["level"] == "category"
    ]
    return {
        **traits,
        **{
            name: sum((Decimal(str(r[window])) for r in mine), Decimal(0))
            for window, name in CATEGORY_SPEND.items()
        },
    }


NOTHING_SENSITIVE = SensitiveCategories(departments=(), categories=())


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the catalog is built once; shops roll back
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_compiled_rules_select_what_the_pandas_reference_selects(
    session: AsyncSession, world: World, data: st.DataObject
) -> None:
    shop = data.draw(shops(world), label="shop")
    drawn = data.draw(st.lists(rules(world), min_size=1, max_size=5), label="rules")
    savepoint = await session.begin_nested()
    try:
        frames = await write_shop(session, shop, world)
        # Each condition on its own as well: a boundary slip inside a big rule is often masked.
        # A share on its own (or in a top-level "and") is a grouped join, under "or" a
        # semi-join: each share is checked in both forms.
        alone = unique(c for r in drawn for c in conditions_of(r))
        nested = [{"or": [c]} for c in alone if "share_of_category" in c]
        for rule in [*drawn, *alone, *nested]:
            query = await members_query(session, rule, sensitive=NOTHING_SENSITIVE)
            found = {int(row[0]) for row in (await session.execute(query)).all()}
            expected = members(rule, frames)
            assert found == expected, rule
            if "share_of_category" in json.dumps(rule):
                # On the sample a seller in most categories reads the others' rows instead.
                sampled = await members_query(
                    session, rule, sensitive=NOTHING_SENSITIVE, sources=SAMPLE
                )
                assert {int(r[0]) for r in (await session.execute(sampled)).all()} == expected, rule
            share = (
                "none" if not expected else "all" if len(expected) == len(frames.traits) else "some"
            )
            event(f"{next(iter(rule))} selects {share}")
        size = await estimate_size(session, drawn[0], sensitive=NOTHING_SENSITIVE)
        assert size == len(members(drawn[0], frames))
        sampled = await members_query(
            session, drawn[0], sensitive=NOTHING_SENSITIVE, sources=SAMPLE
        )
        assert {int(row[0]) for row in (await session.execute(sampled)).all()} == members(
            drawn[0], frames
        )
        # Read in its first slots only, the sample selects the same, in those slots.
        slots = data.draw(st.integers(1, SLOTS - 1), label="slots")
        within = await members_query(
            session, drawn[0], sensitive=NOTHING_SENSITIVE, sources=SAMPLE.within(slots)
        )
        assert {int(row[0]) for row in (await session.execute(within)).all()} == {
            p for p in members(drawn[0], frames) if p % SLOTS < slots
        }
    finally:
        await savepoint.rollback()


def conditions_of(rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("and", "or"):
        if key in rule:
            for inner in rule[key]:
                yield from conditions_of(inner)
            return
    if "not" in rule:
        yield from conditions_of(rule["not"])
    else:
        yield rule


def unique(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({json.dumps(rule, sort_keys=True): rule for rule in rules}.values())
