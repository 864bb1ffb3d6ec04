"""The audience rules DSL: a small JSON grammar, validated with JSON-pointer errors.

A rule is one JSON object of one of these shapes. Combinators::

    {"and": [rule, ...]}        every rule holds (at least one rule)
    {"or": [rule, ...]}         at least one rule holds (at least one rule)
    {"not": rule}               the rule does not hold

Conditions on a profile's traits::

    {"trait": "spend_52w", "op": ">=", "value": 100}
    {"trait": "recency_days", "op": "between", "value": [0, 30]}
    {"value_tier": ["top", "high"]}           shorthand: value_tier in [...]
    {"cluster": [1, 2]}                       shorthand: value_cluster in [...]

``op`` is one of ``>  >=  <  <=  =  !=  between  in``: ``between`` takes
``[low, high]`` (both included), ``in`` a non-empty list. The traits are the
allow-list :data:`TRAITS`: numbers (``spend_52w`` ...), whole numbers
(``baskets_52w``, ``value_cluster``), ``value_tier`` (one of top, high, medium,
low, lapsed; ``=``, ``!=`` and ``in`` only), and two derived ones counted in
whole days up to the traits' ``as_of`` (the newest refresh): ``recency_days``
(since the last purchase) and ``tenure_days`` (since the first).

Conditions on purchases, from the spend and units kept per department, category,
brand and manufacturer over 4, 13 and 52 weeks::

    {"bought": TARGET, "within_weeks": 13}
    {"spent": TARGET, "within_weeks": 13, "op": ">", "value": 20}
    {"units": TARGET, "within_weeks": 13, "op": ">=", "value": 3}
    {"new_to": TARGET, "within_weeks": 13}
    {"share_of_category": BRAND, "within_weeks": 52, "op": ">=", "value": 0.5}

where ``TARGET`` is ``{"level": "category", "name": "Coffee"}`` (level one of
department, category, brand, manufacturer; a brand may add ``"manufacturer":
"..."`` where several makers use one brand name). ``within_weeks`` is one of 4,
13, 52. *bought* is positive spend in the window; *spent* compares the spend in
the window (0 for a profile that bought nothing there) with ``op`` one of
``> >= < <= between``; *units* compares the units bought in the window the same
way; *new_to* is bought in the window and nothing from the target earlier in the
52 weeks. *share_of_category* (share of category requirements) takes a brand or
manufacturer target: the profile's spend on it in the window over its spend, in
the same window, in every category where the target has products in the catalog,
compared with a share between 0 and 1 (``op`` as for *spent*). A profile with no
spend in those categories has no share: the condition does not hold for it.
Names match the catalog ignoring case and surrounding spaces; a brand name covers
every brand of that name.

Conditions on the retailer's customer attributes (as loaded, text)::

    {"attribute": "age_band", "op": "in", "value": ["25-34", "35-44"]}

with ``op`` one of ``=  !=  in``; it holds if any customer record of the
profile has it (a whole number is compared as its digits).

Meaning: the universe is the profiles with traits. A condition on a value a
profile lacks (no value tier yet, no such attribute) does not hold, and
``not`` is the complement within the universe.

Limits (each a named constant below): nesting depth, number of conditions,
list lengths, values in all, number size. Every problem is reported as an
:class:`~endcap.errors.InvalidRequestError` whose ``errors`` hold one
``{"field": <JSON pointer into the rule>, "message": ...}`` per problem. The
validation itself is :func:`endcap.audiences.rule_parser.parse_rule`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeAlias

from endcap.errors import InvalidRequestError
from endcap.traits.clv import ValueTier

# An "and" of "or"s of "not"s is four levels; eight leaves room for hand-written rules
# while bounding the recursion of validating, compiling and planning one.
MAX_DEPTH: Final = 8
# One rule is one SQL statement; past a hundred conditions the planner is the audience.
MAX_CONDITIONS: Final = 100
# An "in" list longer than this is a member list in disguise, not a rule.
MAX_LIST_VALUES: Final = 1000
# A rule is one statement, and every value is a bound parameter: PostgreSQL's protocol
# takes at most 32767 (asyncpg refuses more), so a hundred lists of a thousand could never
# run. Ten thousand (counted as bound_values binds them), plus the six or so parameters
# each condition adds and its catalog keys, stays well inside that on both databases.
MAX_RULE_VALUES: Final = 10_000
# No count, amount or share in a retailer's data comes near a billion; the bound keeps
# every bound value inside the narrowest column it is compared with (32-bit integers).
MAX_NUMBER: Final = 1_000_000_000
# A century: older purchases are not in the data, and the cut-off date stays representable.
MAX_DAYS: Final = 36_500
# A share is compared exactly as the fraction its decimals write (audiences/compile.py);
# twelve places are finer than any spend a ratio of cents can tell apart, and keep the
# fraction's denominator exact in SQLite's floating point too.
MAX_SHARE_DECIMALS: Final = 12
# Catalog names and spend keys are at most 200 characters in the tables.
MAX_NAME_LENGTH: Final = 200
MAX_TEXT_LENGTH: Final = 500
# Enough to fix a rule in one go, without echoing a huge bad payload back.
MAX_ERRORS: Final = 50

# Attribute names are data-file column names; this also keeps them safe inside a JSON path.
# ASCII only: ingest writes other letters as \u escapes, which SQLite (before 3.45) cannot
# match in a JSON path, so such a rule would silently select nobody there.
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .-]{0,119}")


class Op(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "="
    NE = "!="
    BETWEEN = "between"
    IN = "in"


ALL_OPS: Final = tuple(Op)
CHOICE_OPS: Final = (Op.EQ, Op.NE, Op.IN)
AMOUNT_OPS: Final = (Op.GT, Op.GE, Op.LT, Op.LE, Op.BETWEEN)


class TraitKind(StrEnum):
    NUMBER = "a number"
    WHOLE_NUMBER = "a whole number"
    TIER = "a value tier"
    DAYS = "a whole number of days"


@dataclass(frozen=True, slots=True)
class Trait:
    """A trait a rule may name; ``column`` is its profile_traits column (for days, the
    timestamp they are counted from)."""

    name: str
    kind: TraitKind
    column: str

    @property
    def ops(self) -> tuple[Op, ...]:
        return CHOICE_OPS if self.kind is TraitKind.TIER else ALL_OPS


def _traits(*traits: Trait) -> Mapping[str, Trait]:
    return MappingProxyType({trait.name: trait for trait in traits})


_N, _W = TraitKind.NUMBER, TraitKind.WHOLE_NUMBER
TRAITS: Final = _traits(
    Trait("spend_52w", _N, "spend_52w"),
    Trait("baskets_52w", _W, "baskets_52w"),
    Trait("units_52w", _N, "units_52w"),
    Trait("avg_basket_value", _N, "avg_basket_value"),
    Trait("online_share", _N, "online_share"),
    Trait("promo_share", _N, "promo_share"),
    Trait("expected_baskets_12m", _N, "expected_baskets_12m"),
    Trait("p_alive", _N, "p_alive"),
    Trait("clv_12m", _N, "clv_12m"),
    Trait("value_tier", TraitKind.TIER, "value_tier"),
    Trait("value_cluster", _W, "value_cluster"),
    Trait("recency_days", TraitKind.DAYS, "last_purchase_at"),
    Trait("tenure_days", TraitKind.DAYS, "first_purchase_at"),
)
VALUE_TIERS: Final = tuple(tier.value for tier in ValueTier)

Scalar: TypeAlias = int | float | str


class PurchaseKind(StrEnum):
    BOUGHT = "bought"
    SPENT = "spent"
    UNITS = "units"
    NEW_TO = "new_to"
    SHARE_OF_CATEGORY = "share_of_category"


# The kinds that compare an amount with "op" and "value" (the others take neither).
COMPARED_KINDS: Final = (PurchaseKind.SPENT, PurchaseKind.UNITS, PurchaseKind.SHARE_OF_CATEGORY)
# A share of category requirements is a seller's share of its own categories.
SHARE_LEVELS: Final = ("brand", "manufacturer")


@dataclass(frozen=True, slots=True)
class AllOf:
    pointer: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    pointer: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Not:
    pointer: str
    rule: Rule


@dataclass(frozen=True, slots=True)
class TraitCondition:
    pointer: str
    trait: Trait
    op: Op
    values: tuple[Scalar, ...]  # one, two for between, or the "in" list


@dataclass(frozen=True, slots=True)
class Target:
    """A department, category, brand or manufacturer, as the rule names it."""

    pointer: str
    level: str
    name: str
    manufacturer: str | None = None


@dataclass(frozen=True, slots=True)
class PurchaseCondition:
    pointer: str
    kind: PurchaseKind
    target: Target
    within_weeks: int
    op: Op | None = None  # the COMPARED_KINDS only
    values: tuple[int | float, ...] = ()


@dataclass(frozen=True, slots=True)
class AttributeCondition:
    pointer: str
    name: str
    op: Op
    values: tuple[str, ...]


Condition: TypeAlias = TraitCondition | PurchaseCondition | AttributeCondition
Rule: TypeAlias = AllOf | AnyOf | Not | Condition


def conditions(rule: Rule) -> Iterator[Condition]:
    """Every condition in ``rule``, in document order."""
    if isinstance(rule, AllOf | AnyOf):
        for child in rule.rules:
            yield from conditions(child)
    elif isinstance(rule, Not):
        yield from conditions(rule.rule)
    else:
        yield rule


def bound_values(condition: Condition) -> int:
    """How many parameters ``condition``'s values take in the compiled statement, at most: a
    number of days two (compile.py tests a day as at least one cut-off and under the next),
    a share two (the terms of its fraction, compared without dividing), any other value one."""
    twice = (isinstance(condition, TraitCondition) and condition.trait.kind is TraitKind.DAYS) or (
        isinstance(condition, PurchaseCondition)
        and condition.kind is PurchaseKind.SHARE_OF_CATEGORY
    )
    return len(condition.values) * (2 if twice else 1)


def invalid_rule(errors: list[dict[str, str]]) -> InvalidRequestError:
    """The error for a rule with these problems (pointer and message each)."""
    first = errors[0]
    where = f"at {first['field']}" if first["field"] else "at the top of the rule"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidRequestError(
        f"the audience rule is not valid {where}: {first['message']}{more}", errors=errors
    )


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choices, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(name) for name in close) + "?)"
