"""Share of category requirements as SQL: spend on a brand (or maker) over spend in the
categories it has products in, compared exactly (:func:`comparisons.share_test`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, false, func, literal, not_, or_, select, union_all
from sqlalchemy.sql import ColumnElement, Subquery

from endcap.audiences.comparisons import ZERO, holds, share_test
from endcap.audiences.references import ResolvedTarget
from endcap.audiences.rules import PurchaseCondition
from endcap.audiences.sources import Sources
from endcap.traits.models import CATEGORY_SPEND


def share_of_category(
    condition: PurchaseCondition,
    resolved: ResolvedTarget,
    sources: Sources,
    spend_categories: frozenset[str] | None,
) -> ColumnElement[bool]:
    """Spend on the brand (or maker) over spend in the categories it has products in.

    Computed here from the spend rows rather than stored per profile and seller: both
    sums are range scans of the covering spend key (level, key; index-only scans on
    PostgreSQL), so the cost grows with the buyers in the seller's categories. At 100k
    profiles (tests/perf/bench_traits.py's data) it took 80-90 ms for a brand in two
    categories and 0.8 s for a store brand in 46, next to 30-40 ms for a ``spent``
    condition on one category. A stored share (three windows on every brand and maker
    row) would make every refresh pair each seller row with its categories' rows, for
    a condition few rules use, and would be wrong from the moment the catalog gives a
    brand a new category until the next refresh; this reads the catalog as it is now.

    On the estimate sample, whose traits hold each profile's spend in every category,
    a seller in most categories (a store brand) reads that less the spend in the few
    categories it is not in: the rows of those few instead of nearly all of a profile's
    category rows (see :func:`_by_other_categories`). On tests/perf/bench_estimate.py's
    100k profiles (50k sampled), a three-clause rule with the store brand's share (46
    of 51 categories) counted on the sample in a quarter of the time (median 0.35 s
    against 1.43 s, interleaved in one run on two loaded cores); with a brand in three
    categories it is 1.1x, as the rows read are the same.

    This is the semi-join form, for a share under ``or`` or ``not`` (or a second share in
    one ``and``); a share the whole rule requires is compiled by :func:`grouped_share`,
    which the planner handles better.
    """
    if condition.op is None:
        raise ValueError("a share_of_category condition needs an op")
    categories = sorted(resolved.reference.categories)
    if not categories:
        return false()  # no products: nobody has spend in its categories
    others = _other_categories(categories, spend_categories)
    if others is not None:
        return _by_other_categories(condition, resolved, sources, others)
    traits, spend = sources.traits, sources.spend
    s = spend.c
    window = s[f"spend_{condition.within_weeks}w"]

    def summed(*where: ColumnElement[bool]) -> Any:
        return (
            select(s.profile_id, func.sum(window).label("spend"))
            .where(*where, window != ZERO, *sources.in_slots(spend))
            .group_by(s.profile_id)
            .subquery()
        )

    # Two sums, each grouped on the spend table's own profile_id (the planner knows how
    # many groups; one sum per group keeps the hash table small), then joined.
    seller = summed(s.level == condition.target.level, s.key.in_(resolved.keys))
    requirements = summed(s.level == "category", s.key.in_(categories))
    values = tuple(Decimal(str(v)) for v in condition.values)
    if holds(condition.op, values, ZERO):
        # A share of 0 passes: shoppers in the categories without seller rows count too.
        joined = requirements.outerjoin(seller, seller.c.profile_id == requirements.c.profile_id)
        bought = func.coalesce(seller.c.spend, literal(ZERO, window.type))
    else:
        joined = requirements.join(seller, seller.c.profile_id == requirements.c.profile_id)
        bought = seller.c.spend
    found = (
        select(requirements.c.profile_id)
        .select_from(joined)
        .where(
            requirements.c.spend > ZERO,
            share_test(bought, requirements.c.spend, condition.op, condition.values),
        )
        .subquery()
    )
    return exists().where(found.c.profile_id == traits.c.profile_id)


def _by_other_categories(
    condition: PurchaseCondition,
    resolved: ResolvedTarget,
    sources: Sources,
    others: list[str],
) -> ColumnElement[bool]:
    """The share with requirements = spend in every category less spend in ``others``
    (the categories with spend rows that the seller is not in): exact, as both come
    from the same rows, written together (traits/sample.py).

    A profile without seller rows has a share of 0 wherever it has requirements; when
    0 passes the comparison (``<`` a share, say), such profiles count without any row
    being read for them, unless they have spend in ``others``.
    """
    op = condition.op
    if op is None:
        raise ValueError("a share_of_category condition needs an op")
    t = sources.traits.c
    everywhere = t[CATEGORY_SPEND[f"spend_{condition.within_weeks}w"]]
    rows = _tagged_rows(condition, resolved, sources, others)
    sums = (
        select(
            rows.c.profile_id,
            func.sum(rows.c.seller).label("seller"),
            func.sum(rows.c.categories).label("elsewhere"),
        )
        .group_by(rows.c.profile_id)
        .subquery()
    )
    requirements = everywhere - sums.c.elsewhere
    with_rows = exists().where(
        sums.c.profile_id == t.profile_id,
        requirements > ZERO,
        share_test(sums.c.seller, requirements, op, condition.values),
    )
    values = tuple(Decimal(str(v)) for v in condition.values)
    if not holds(op, values, ZERO):
        return with_rows
    # No seller nor other-category rows: a share of 0 of everything it spent.
    without_rows = and_(everywhere > ZERO, not_(exists().where(sums.c.profile_id == t.profile_id)))
    return or_(with_rows, without_rows)


def _tagged_rows(
    condition: PurchaseCondition, resolved: ResolvedTarget, sources: Sources, categories: list[str]
) -> Subquery:
    """The window's spend rows on the seller and in ``categories``, each tagged with the sum
    it goes to (``profile_id``, ``seller``, ``categories``; the other column 0): a UNION ALL
    of two index-only scans of the spend key, no CASE on the level.

    Rows with no spend in the window are left out: they add nothing to either sum, and a
    profile left without rows has sums of 0 either way (a share of 0 where the traits'
    spend in every category is read, no share where only rows are). A key's row exists
    when it has spend in 52 weeks, so in 13 or 4 weeks many are 0: on
    tests/perf/bench_estimate.py's data, a brand in three categories had 68k rows in
    half the sample and 28k with 13-week spend.
    """
    spend = sources.spend
    s = spend.c
    window = s[f"spend_{condition.within_weeks}w"]
    nothing = literal(ZERO, window.type)
    kept = [window != ZERO, *sources.in_slots(spend)]
    parts = [
        select(s.profile_id, window.label("seller"), nothing.label("categories")).where(
            s.level == condition.target.level, s.key.in_(resolved.keys), *kept
        )
    ]
    if categories:
        parts.append(
            select(s.profile_id, nothing, window).where(
                s.level == "category", s.key.in_(categories), *kept
            )
        )
    return union_all(*parts).subquery()


def _other_categories(
    categories: list[str], spend_categories: frozenset[str] | None
) -> list[str] | None:
    """The categories with spend rows that the seller is not in, when reading them and the
    traits' spend in every category (``spend_categories`` given: the sample) reads fewer
    categories' rows than the seller's own; otherwise None."""
    if spend_categories is None:
        return None
    others = spend_categories - set(categories)
    if len(others) < len(spend_categories & set(categories)):
        return sorted(others)
    return None


@dataclass(frozen=True)
class GroupedShare:
    """A share as rows to join to the traits (``profile_id``, ``seller``, ``categories``: spend
    on the seller, or in a category) and a test on their sums, the statement grouped on the
    traits' profile_id (:func:`grouped_share`)."""

    rows: Subquery
    outer: bool  # a LEFT JOIN: profiles without rows may pass too
    having: ColumnElement[bool]


def grouped_share(
    condition: PurchaseCondition,
    resolved: ResolvedTarget,
    sources: Sources,
    spend_categories: frozenset[str] | None,
) -> GroupedShare | None:
    """The share for a rule that requires it of every profile it selects (the share stands
    alone, or in the rule's top-level ``and``): None for a seller without products (whom
    :func:`share_of_category` compiles to false).

    The statement joins the traits to the spend rows on the seller and its categories (or
    on the categories it is not in, with the traits' spend in every category: see
    :func:`_by_other_categories`), groups on the traits' own profile_id and tests the sums
    in HAVING: exact, as the semi-join is. Why: the planner knows how many profiles the
    traits hold, but not how many groups a grouped subquery of spend rows has. For the
    semi-join it assumed 200 (PostgreSQL's default for a derived column) where there were
    26k-45k on the 50k-profile sample, so it hashed the sums (spilling to disk) and then
    looked each of those profiles up in the traits by index, one by one. Here the traits'
    other conditions are filtered first, joined by hash to the spend rows, and only the
    rows of the profiles that pass them are summed. Each spend row is tagged with the sum
    it goes to (a UNION ALL of two index-only scans of the spend key, no CASE on the
    level), so both sums come out of one grouping.

    Measured with tests/perf/bench_estimate.py's data: the compiled count statements of
    its three-clause share rules, old semi-join and this run alternately on one connection
    (40 runs each), median (p95) ms, on the sample once vacuumed. At 100k profiles (50k
    sampled; load average 0.3): brand in three categories, share >= 0.3 (R5) 78 (81) ->
    49 (51); store brand, read from the other categories (R6) 83 (86) -> 43 (45); brand,
    share < 0.1, where 0 passes (R7) 59 (61) -> 57 (58). At 1M profiles (62.5k sampled;
    load 1.5-2): R5 109 (170) -> 69 (115), R6 115 (175) -> 58 (82), R7 83 (122) -> 76
    (104). R7 gains least: its other conditions keep three quarters of the profiles, so
    nearly all rows are summed either way; right after a refresh rebuilt the sample (not
    yet vacuumed: index-only scans visit the heap) it was slower at 100k, 72 -> 86 ms,
    while R5 89 -> 67 and R6 126 -> 63. Over every profile (the exact count, refreshes)
    at 100k: R5 1.8x, R6 1.0x, R7 1.3x faster. More ``work_mem`` (16-64 MB, SET LOCAL)
    avoids the small spill but made these statements slower, not faster (larger numeric
    hash tables), so none is set.
    """
    op = condition.op
    if op is None:
        raise ValueError("a share_of_category condition needs an op")
    categories = sorted(resolved.reference.categories)
    if not categories:
        return None
    window_name = f"spend_{condition.within_weeks}w"
    nothing = literal(ZERO, sources.spend.c[window_name].type)
    others = _other_categories(categories, spend_categories)
    rows = _tagged_rows(condition, resolved, sources, categories if others is None else others)
    if others is None:
        # Whoever has requirements has category rows: an inner join misses no one.
        requirements: Any = func.sum(rows.c.categories)
        seller: Any = func.sum(rows.c.seller)
        outer = False
    else:
        # Requirements are the traits' spend in every category less the others' rows; a
        # profile with neither seller nor other rows has a share of 0 of all it spent.
        everywhere = sources.traits.c[CATEGORY_SPEND[window_name]]  # one per group: the traits' key
        requirements = everywhere - func.coalesce(func.sum(rows.c.categories), nothing)
        seller = func.coalesce(func.sum(rows.c.seller), nothing)
        values = tuple(Decimal(str(v)) for v in condition.values)
        outer = holds(op, values, ZERO)
    having = and_(requirements > ZERO, share_test(seller, requirements, op, condition.values))
    return GroupedShare(rows, outer, having)
