"""A rule becomes one parameterised SQL statement: the ids of the profiles it selects.

The statement reads ``profile_traits`` (the audience universe: profiles with
traits) and filters it with a WHERE clause built from the rule. Purchase and
attribute conditions are EXISTS semi-joins, so nothing fans out and each profile
comes back once: the ids are distinct without paying for a DISTINCT. Every name
and value from the rule is a bound parameter; only column names from this
module's allow-lists reach the SQL text. The same statement runs on PostgreSQL
and SQLite.

Conditions hold only on known values, so that ``not`` is the complement within
the universe (SQL's NULL would otherwise drop a profile from both a condition
and its negation). Days are whole days elapsed up to ``as_of``, compared as
timestamps against cut-offs computed here, which needs no date arithmetic in SQL.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Numeric,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql import ColumnElement

from endcap.audiences.references import Targets
from endcap.audiences.rules import (
    AllOf,
    AnyOf,
    AttributeCondition,
    Not,
    Op,
    PurchaseCondition,
    PurchaseKind,
    Rule,
    Scalar,
    TraitCondition,
    TraitKind,
    conditions,
)
from endcap.db.base import table_of
from endcap.identity.models import Customer
from endcap.traits.models import (
    CATEGORY_SPEND,
    SPEND_SAMPLE,
    TRAITS_SAMPLE,
    ProfileSpend,
    ProfileTraits,
)

TRAITS = table_of(ProfileTraits)
SPEND = table_of(ProfileSpend)
CUSTOMERS = table_of(Customer)


@dataclass(frozen=True)
class Sources:
    """The tables a rule reads: every profile's traits and spend, or the estimate sample's
    (traits/sample.py), which have the same columns; the sample's traits also hold each
    profile's spend in every category (``category_spend``)."""

    traits: Table
    spend: Table
    category_spend: bool = False


EVERYONE = Sources(TRAITS, SPEND)
SAMPLE = Sources(TRAITS_SAMPLE, SPEND_SAMPLE, category_spend=True)

_ZERO = Decimal(0)
_COMPARE: dict[Op, Callable[[Any, Any], Any]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}


def uses_share(rule: Rule) -> bool:
    """Whether ``rule`` has a share of category requirements (which may read the categories
    with spend rows: see :func:`compile_rule`)."""
    return any(
        isinstance(c, PurchaseCondition) and c.kind is PurchaseKind.SHARE_OF_CATEGORY
        for c in conditions(rule)
    )


def uses_days(rule: Rule) -> bool:
    """Whether ``rule`` counts days (and so needs an ``as_of`` to compile)."""
    return any(
        isinstance(c, TraitCondition) and c.trait.kind is TraitKind.DAYS for c in conditions(rule)
    )


def compile_rule(
    rule: Rule,
    targets: Targets,
    *,
    as_of: datetime | None = None,
    sources: Sources = EVERYONE,
    spend_categories: frozenset[str] | None = None,
) -> Select[Any]:
    """The select of the ids (``profile_id``) of the profiles ``rule`` selects.

    ``targets`` are the rule's resolved purchase targets
    (:func:`endcap.audiences.references.resolve_targets`). ``as_of`` is the moment
    ``recency_days`` and ``tenure_days`` count up to (the traits' newest ``as_of``);
    it is required when the rule uses them. ``spend_categories``, the categories with
    rows in ``sources.spend`` (:meth:`AudienceRepository.spend_categories`), lets a share
    of category requirements on sources with ``category_spend`` read the categories a
    seller is not in rather than those it is in, when they are fewer; without it the
    share sums the seller's own categories, as on every profile's tables.
    """
    if as_of is None and uses_days(rule):
        raise ValueError("a rule that counts days needs as_of")
    traits = sources.traits
    compiler = _Compiler(targets, as_of, sources, spend_categories)
    return select(traits.c.profile_id).where(compiler.predicate(rule))


def compare(expression: Any, op: Op, values: tuple[Any, ...]) -> ColumnElement[bool]:
    """``expression op values`` (``between`` takes two values, ``in`` any number)."""
    if op is Op.BETWEEN:
        return expression.between(values[0], values[1])  # type: ignore[no-any-return]
    if op is Op.IN:
        return expression.in_(values)  # type: ignore[no-any-return]
    return _COMPARE[op](expression, values[0])  # type: ignore[no-any-return]


def holds(op: Op, values: tuple[Decimal, ...], amount: Decimal) -> bool:
    """The same comparison in Python (for an amount the database has no row for)."""
    if op is Op.BETWEEN:
        return values[0] <= amount <= values[1]
    if op is Op.IN:
        return amount in values
    return bool(_COMPARE[op](amount, values[0]))


class _Compiler:
    def __init__(
        self,
        targets: Targets,
        as_of: datetime | None,
        sources: Sources,
        spend_categories: frozenset[str] | None,
    ) -> None:
        self.targets = targets
        self.as_of = as_of
        self.traits = sources.traits
        self.spend = sources.spend
        self.spend_categories = spend_categories if sources.category_spend else None

    def predicate(self, rule: Rule) -> ColumnElement[bool]:
        if isinstance(rule, AllOf):
            return and_(*(self.predicate(r) for r in rule.rules))
        if isinstance(rule, AnyOf):
            return or_(*(self.predicate(r) for r in rule.rules))
        if isinstance(rule, Not):
            return not_(self.predicate(rule.rule))
        if isinstance(rule, TraitCondition):
            return self._days(rule) if rule.trait.kind is TraitKind.DAYS else self._trait(rule)
        if isinstance(rule, PurchaseCondition):
            return self._purchase(rule)
        return self._attribute(rule)

    def _trait(self, condition: TraitCondition) -> ColumnElement[bool]:
        column = self.traits.c[condition.trait.column]
        values = tuple(_as_column_value(column.type, v) for v in condition.values)
        test = compare(column, condition.op, values)
        if column.nullable:
            return and_(column.is_not(None), test)
        return test

    def _days(self, condition: TraitCondition) -> ColumnElement[bool]:
        """Whole days from ``stamp`` to ``as_of`` are at least n ⟺ stamp <= as_of - n days."""
        stamp = self.traits.c[condition.trait.column]
        as_of = self.as_of
        if as_of is None:
            raise ValueError("a rule that counts days needs as_of")

        def at_least(days: Scalar) -> ColumnElement[bool]:
            return stamp <= as_of - timedelta(days=int(days))

        def under(days: Scalar) -> ColumnElement[bool]:
            return stamp > as_of - timedelta(days=int(days))

        def exactly(days: Scalar) -> ColumnElement[bool]:
            return and_(at_least(days), under(int(days) + 1))

        values, op = condition.values, condition.op
        first = int(values[0])
        tests: dict[Op, Callable[[], ColumnElement[bool]]] = {
            Op.GT: lambda: at_least(first + 1),
            Op.GE: lambda: at_least(first),
            Op.LT: lambda: under(first),
            Op.LE: lambda: under(first + 1),
            Op.EQ: lambda: exactly(first),
            Op.NE: lambda: or_(under(first), at_least(first + 1)),
            Op.BETWEEN: lambda: and_(at_least(first), under(int(values[-1]) + 1)),
            Op.IN: lambda: or_(*(exactly(days) for days in values)),
        }
        return tests[op]()

    def _purchase(self, condition: PurchaseCondition) -> ColumnElement[bool]:
        """Spend on a target is summed over its keys (a brand name may have several ids)."""
        if condition.kind is PurchaseKind.SHARE_OF_CATEGORY:
            return self._share_of_category(condition)
        keys = self.targets[condition.pointer].keys
        s = self.spend.c
        measure = "units" if condition.kind is PurchaseKind.UNITS else "spend"
        window = s[f"{measure}_{condition.within_weeks}w"]
        grouped = len(keys) > 1
        in_target = and_(
            s.level == condition.target.level, s.key.in_(keys) if grouped else s.key == keys[0]
        )
        amount: Any = func.sum(window) if grouped else window
        negated = False
        if condition.kind is PurchaseKind.BOUGHT:
            test = amount > _ZERO
        elif condition.kind is PurchaseKind.NEW_TO:
            # Nothing from the target before the window: 52-week spend is all in the window.
            earlier = s.spend_52w != window
            none_earlier = func.sum(case((earlier, 1), else_=0)) == 0 if grouped else not_(earlier)
            test = and_(amount > _ZERO, none_earlier)
        elif condition.op is None:
            raise ValueError(f"a {condition.kind} condition needs an op")
        else:
            values = tuple(Decimal(str(v)) for v in condition.values)
            test = compare(amount, condition.op, values)
            # A profile without rows there spent 0: when 0 passes, look for who fails instead.
            if holds(condition.op, values, _ZERO):
                test, negated = not_(test), True
        if grouped:
            found = (
                select(s.profile_id).where(in_target).group_by(s.profile_id).having(test).subquery()
            )
            any_row = exists().where(found.c.profile_id == self.traits.c.profile_id)
        else:
            any_row = exists().where(s.profile_id == self.traits.c.profile_id, in_target, test)
        return not_(any_row) if negated else any_row

    def _share_of_category(self, condition: PurchaseCondition) -> ColumnElement[bool]:
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
        category rows (see :meth:`_share_by_other_categories`). On tests/perf/bench_estimate.py's
        100k profiles (50k sampled), a three-clause rule with the store brand's share (46
        of 51 categories) counted on the sample in a quarter of the time (median 0.35 s
        against 1.43 s, interleaved in one run on two loaded cores); with a brand in three
        categories it is 1.1x, as the rows read are the same.
        """
        if condition.op is None:
            raise ValueError("a share_of_category condition needs an op")
        resolved = self.targets[condition.pointer]
        categories = sorted(resolved.reference.categories)
        if not categories:
            return false()  # no products: nobody has spend in its categories
        if self.spend_categories is not None:
            others = self.spend_categories - set(categories)
            if len(others) < len(self.spend_categories & set(categories)):
                return self._share_by_other_categories(condition, sorted(others))
        s = self.spend.c
        window = s[f"spend_{condition.within_weeks}w"]

        def summed(*where: ColumnElement[bool]) -> Any:
            return (
                select(s.profile_id, func.sum(window).label("spend"))
                .where(*where)
                .group_by(s.profile_id)
                .subquery()
            )

        # Two sums, each grouped on the spend table's own profile_id (the planner knows how
        # many groups; one sum per group keeps the hash table small), then joined.
        seller = summed(s.level == condition.target.level, s.key.in_(resolved.keys))
        requirements = summed(s.level == "category", s.key.in_(categories))
        values = tuple(Decimal(str(v)) for v in condition.values)
        if holds(condition.op, values, _ZERO):
            # A share of 0 passes: shoppers in the categories without seller rows count too.
            joined = requirements.outerjoin(
                seller, seller.c.profile_id == requirements.c.profile_id
            )
            bought = func.coalesce(seller.c.spend, literal(_ZERO, window.type))
        else:
            joined = requirements.join(seller, seller.c.profile_id == requirements.c.profile_id)
            bought = seller.c.spend
        found = (
            select(requirements.c.profile_id)
            .select_from(joined)
            .where(
                requirements.c.spend > _ZERO,
                _share_test(bought, requirements.c.spend, condition.op, condition.values),
            )
            .subquery()
        )
        return exists().where(found.c.profile_id == self.traits.c.profile_id)

    def _share_by_other_categories(
        self, condition: PurchaseCondition, others: list[str]
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
        resolved = self.targets[condition.pointer]
        s, t = self.spend.c, self.traits.c
        window_name = f"spend_{condition.within_weeks}w"
        window = s[window_name]
        everywhere = t[CATEGORY_SPEND[window_name]]
        nothing = literal(_ZERO, window.type)
        parts = [
            select(s.profile_id, window.label("seller"), nothing.label("elsewhere")).where(
                s.level == condition.target.level, s.key.in_(resolved.keys)
            )
        ]
        if others:
            parts.append(
                select(s.profile_id, nothing, window).where(
                    s.level == "category", s.key.in_(others)
                )
            )
        rows = union_all(*parts).subquery()
        sums = (
            select(
                rows.c.profile_id,
                func.sum(rows.c.seller).label("seller"),
                func.sum(rows.c.elsewhere).label("elsewhere"),
            )
            .group_by(rows.c.profile_id)
            .subquery()
        )
        requirements = everywhere - sums.c.elsewhere
        with_rows = exists().where(
            sums.c.profile_id == t.profile_id,
            requirements > _ZERO,
            _share_test(sums.c.seller, requirements, op, condition.values),
        )
        values = tuple(Decimal(str(v)) for v in condition.values)
        if not holds(op, values, _ZERO):
            return with_rows
        # No seller nor other-category rows: a share of 0 of everything it spent.
        without_rows = and_(
            everywhere > _ZERO, not_(exists().where(sums.c.profile_id == t.profile_id))
        )
        return or_(with_rows, without_rows)

    def _attribute(self, condition: AttributeCondition) -> ColumnElement[bool]:
        """Attributes are text as loaded; the cast makes SQLite's JSON numbers text too."""
        c = CUSTOMERS.c
        value = cast(c.attributes[condition.name].as_string(), String)
        test = compare(value, condition.op, condition.values)
        return exists().where(c.profile_id == self.traits.c.profile_id, test)


def _share_test(
    seller: Any, requirements: Any, op: Op, values: tuple[int | float, ...]
) -> ColumnElement[bool]:
    """``seller / requirements op value``, exactly, for requirements above 0.

    Each value is the fraction p/q its decimals write, and seller·q is compared with
    p·requirements: no division, so 0.01 of 0.05 is a share of 0.2 (dividing in binary
    floating point gives 0.19999999999999998), on PostgreSQL's decimals exactly and on
    SQLite's floats as nearly as they hold the amounts.
    """

    def side(value: int | float, compared: Op) -> ColumnElement[bool]:
        p, q = Decimal(str(value)).as_integer_ratio()
        whole = Numeric(38, 0)
        return _COMPARE[compared](  # type: ignore[no-any-return]
            seller * literal(Decimal(q), whole), requirements * literal(Decimal(p), whole)
        )

    if op is Op.BETWEEN:
        return and_(side(values[0], Op.GE), side(values[1], Op.LE))
    return side(values[0], op)


def _as_column_value(column_type: Any, value: Scalar) -> Scalar | Decimal:
    """The value as the column's own Python type (decimal columns compare exactly)."""
    if isinstance(column_type, Float):
        return float(value)
    if isinstance(column_type, Numeric):
        return Decimal(str(value))
    if isinstance(column_type, Integer):
        return int(value)
    return value
