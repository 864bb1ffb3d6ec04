"""A rule becomes one parameterised SQL statement: the ids of the profiles it selects.

The statement reads ``profile_traits`` (the audience universe: profiles with
traits) and filters it with a WHERE clause built from the rule. Purchase and
attribute conditions are EXISTS semi-joins, so nothing fans out and each profile
comes back once: the ids are distinct without paying for a DISTINCT. A share of
category requirements that the whole rule requires is the exception: its spend rows
are joined to the traits and the statement is grouped on the traits' profile_id, which
the planner estimates far better than a semi-join to grouped sums (share_sql.py); the
grouping still gives each profile once. Every name and value from the rule is a bound
parameter; only column names from this module's allow-lists reach the SQL text. The
same statement runs on PostgreSQL and SQLite.

Conditions hold only on known values, so that ``not`` is the complement within
the universe (SQL's NULL would otherwise drop a profile from both a condition
and its negation). Days are whole days elapsed up to ``as_of``, compared as
timestamps against cut-offs computed here, which needs no date arithmetic in SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

from sqlalchemy import (
    Float,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.sql import ColumnElement

from endcap.audiences.comparisons import ZERO, compare, holds
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
from endcap.audiences.share_sql import grouped_share, share_of_category
from endcap.audiences.sources import EVERYONE, Sources
from endcap.db.base import table_of
from endcap.identity.models import Customer

CUSTOMERS = table_of(Customer)


def uses_share(rule: Rule) -> bool:
    """Whether ``rule`` has a share of category requirements (which may read the categories
    with spend rows: see :func:`compile_rule`)."""
    return any(_is_share(c) for c in conditions(rule))


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
    return _Compiler(targets, as_of, sources, spend_categories).statement(rule)


def _conjuncts(rule: Rule) -> list[Rule]:
    """The rules that ``rule`` requires all of: its top-level ``and``, flattened."""
    if isinstance(rule, AllOf):
        return [c for r in rule.rules for c in _conjuncts(r)]
    return [rule]


def _is_share(rule: Rule) -> TypeGuard[PurchaseCondition]:
    return isinstance(rule, PurchaseCondition) and rule.kind is PurchaseKind.SHARE_OF_CATEGORY


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
        self.sources = sources
        self.traits = sources.traits
        self.spend = sources.spend
        self.spend_categories = spend_categories if sources.category_spend else None

    def statement(self, rule: Rule) -> Select[Any]:
        """One statement: a share of category requirements that every selected profile must
        meet (share_sql.grouped_share) joins its spend rows to the traits, grouped on the
        traits' profile_id (still one row per profile); every other condition, and a share
        under ``or`` or ``not`` or after the first, is an EXISTS semi-join in WHERE."""
        t = self.traits.c
        # The slots read, if not all: every profile selected is in them. The spend reads
        # are filtered too, only so that they read no other slot's rows.
        in_slots = self.sources.in_slots(self.traits)
        clauses = _conjuncts(rule)
        for i, clause in enumerate(clauses):
            if not _is_share(clause):
                continue
            share = grouped_share(
                clause, self.targets[clause.pointer], self.sources, self.spend_categories
            )
            if share is None:
                break  # no products: the condition is false (predicate)
            rest = [*clauses[:i], *clauses[i + 1 :]]
            joined = self.traits.join(
                share.rows, share.rows.c.profile_id == t.profile_id, isouter=share.outer
            )
            return (
                select(t.profile_id)
                .select_from(joined)
                .where(*in_slots, *(self.predicate(c) for c in rest))
                .group_by(t.profile_id)
                .having(share.having)
            )
        return select(t.profile_id).where(*in_slots, self.predicate(rule))

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
            return share_of_category(
                condition, self.targets[condition.pointer], self.sources, self.spend_categories
            )
        keys = self.targets[condition.pointer].keys
        s = self.spend.c
        measure = "units" if condition.kind is PurchaseKind.UNITS else "spend"
        window = s[f"{measure}_{condition.within_weeks}w"]
        grouped = len(keys) > 1
        in_target = and_(
            s.level == condition.target.level,
            s.key.in_(keys) if grouped else s.key == keys[0],
            *self.sources.in_slots(self.spend),
        )
        amount: Any = func.sum(window) if grouped else window
        negated = False
        if condition.kind is PurchaseKind.BOUGHT:
            test = amount > ZERO
        elif condition.kind is PurchaseKind.NEW_TO:
            # Nothing from the target before the window: 52-week spend is all in the window.
            earlier = s.spend_52w != window
            none_earlier = func.sum(case((earlier, 1), else_=0)) == 0 if grouped else not_(earlier)
            test = and_(amount > ZERO, none_earlier)
        elif condition.op is None:
            raise ValueError(f"a {condition.kind} condition needs an op")
        else:
            values = tuple(Decimal(str(v)) for v in condition.values)
            test = compare(amount, condition.op, values)
            # A profile without rows there spent 0: when 0 passes, look for who fails instead.
            if holds(condition.op, values, ZERO):
                test, negated = not_(test), True
        if grouped:
            found = (
                select(s.profile_id).where(in_target).group_by(s.profile_id).having(test).subquery()
            )
            any_row = exists().where(found.c.profile_id == self.traits.c.profile_id)
        else:
            correlated = [s.profile_id == self.traits.c.profile_id, *self.sources.same_slot()]
            any_row = exists().where(*correlated, in_target, test)
        return not_(any_row) if negated else any_row

    def _attribute(self, condition: AttributeCondition) -> ColumnElement[bool]:
        """Attributes are text as loaded; the cast makes SQLite's JSON numbers text too."""
        c = CUSTOMERS.c
        value = cast(c.attributes[condition.name].as_string(), String)
        test = compare(value, condition.op, condition.values)
        return exists().where(c.profile_id == self.traits.c.profile_id, test)


def _as_column_value(column_type: Any, value: Scalar) -> Scalar | Decimal:
    """The value as the column's own Python type (decimal columns compare exactly)."""
    if isinstance(column_type, Float):
        return float(value)
    if isinstance(column_type, Numeric):
        return Decimal(str(value))
    if isinstance(column_type, Integer):
        return int(value)
    return value
