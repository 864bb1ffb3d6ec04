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
``{"field": <JSON pointer into the rule>, "message": ...}`` per problem.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeAlias, TypeVar

from endcap.errors import InvalidRequestError
from endcap.traits.clv import ValueTier
from endcap.traits.models import LEVELS, WINDOWS_WEEKS

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
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .-]{0,119}")


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
S = TypeVar("S", bound=Scalar)


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


def parse_rule(document: object, *, pointer: str = "") -> Rule:
    """Validate a rule given as decoded JSON and return it as a tree.

    ``pointer`` is where the rule sits in the request (e.g. ``/rule``); every error's
    ``field`` starts with it. Raises :class:`InvalidRequestError` listing every
    problem found (up to :data:`MAX_ERRORS`). Catalog names are not looked up here
    (:mod:`endcap.audiences.references` does that).
    """
    parser = _Parser()
    try:
        rule = parser.rule(document, pointer, depth=1)
    except _GaveUpError:
        rule = None
    if parser.errors or rule is None:
        raise invalid_rule(parser.errors)
    return rule


def invalid_rule(errors: list[dict[str, str]]) -> InvalidRequestError:
    """The error for a rule with these problems (pointer and message each)."""
    first = errors[0]
    where = f"at {first['field']}" if first["field"] else "at the top of the rule"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidRequestError(
        f"the audience rule is not valid {where}: {first['message']}{more}", errors=errors
    )


def child(pointer: str, token: str | int) -> str:
    """``pointer`` extended by one member name or list index (RFC 6901 escaping)."""
    return f"{pointer}/{str(token).replace('~', '~0').replace('/', '~1')}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choices, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(name) for name in close) + "?)"


class _GaveUpError(Exception):
    """Validation gave up: too many errors or conditions to go on usefully."""


_COMBINATORS = ("and", "or", "not")
_CONDITIONS = (
    "trait", "bought", "spent", "units", "new_to", "share_of_category", "value_tier", "cluster",
    "attribute",
)  # fmt: skip
_KINDS = _COMBINATORS + _CONDITIONS
_KEYS: Mapping[str, tuple[str, ...]] = {
    "and": ("and",),
    "or": ("or",),
    "not": ("not",),
    "trait": ("trait", "op", "value"),
    "bought": ("bought", "within_weeks"),
    "spent": ("spent", "within_weeks", "op", "value"),
    "units": ("units", "within_weeks", "op", "value"),
    "new_to": ("new_to", "within_weeks"),
    "share_of_category": ("share_of_category", "within_weeks", "op", "value"),
    "value_tier": ("value_tier",),
    "cluster": ("cluster",),
    "attribute": ("attribute", "op", "value"),
}
_TARGET_KEYS = ("level", "name", "manufacturer")
_OP_NAMES = frozenset(op.value for op in Op)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return repr(value)[:40]


def _listing(names: tuple[str, ...] | tuple[int, ...]) -> str:
    return ", ".join(str(name) for name in names)


class _Parser:
    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []
        self.conditions = 0
        self.values = 0

    def fail(self, pointer: str, message: str) -> None:
        self.errors.append({"field": pointer, "message": message})
        if len(self.errors) >= MAX_ERRORS:
            raise _GaveUpError

    # -- rules ---------------------------------------------------------------------

    def rule(self, value: object, at: str, *, depth: int) -> Rule | None:
        if depth > MAX_DEPTH:
            self.fail(at, f"rules nest at most {MAX_DEPTH} levels deep")
            return None
        if not isinstance(value, dict):
            self.fail(at, f"a rule is a JSON object, got {_json_kind(value)}")
            return None
        kinds = [key for key in _KINDS if key in value]
        if len(kinds) != 1:
            self._no_single_kind(value, at, kinds)
            return None
        kind = kinds[0]
        self._unknown_keys(value, at, _KEYS[kind], f"a {kind!r} rule")
        if kind in ("and", "or"):
            return self._all_or_any(value[kind], child(at, kind), at, kind, depth)
        if kind == "not":
            inner = self.rule(value["not"], child(at, "not"), depth=depth + 1)
            return Not(at, inner) if inner is not None else None
        self._count_condition(at)
        condition = self._condition(value, at, kind)
        if condition is not None:
            self._count_values(condition)
        return condition

    def _condition(self, value: dict[object, object], at: str, kind: str) -> Condition | None:
        if kind == "trait":
            return self._trait(value, at)
        if kind == "attribute":
            return self._attribute(value, at)
        if kind in ("value_tier", "cluster"):
            return self._shorthand(value[kind], at, kind)
        return self._purchase(value, at, PurchaseKind(kind))

    def _no_single_kind(self, value: dict[object, object], at: str, kinds: list[str]) -> None:
        if kinds:
            found = " and ".join(repr(kind) for kind in kinds)
            self.fail(at, f"a rule has exactly one of {_listing(_KINDS)}; this one has {found}")
            return
        hints = "".join(did_you_mean(str(key), _KINDS) for key in list(value)[:10])
        self.fail(at, f"a rule needs one of {_listing(_KINDS)}{hints}")

    def _unknown_keys(
        self, value: dict[object, object], at: str, allowed: tuple[str, ...], what: str
    ) -> None:
        for key in value:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                self.fail(child(at, str(key)), f"unknown field {str(key)[:80]!r} in {what}{hint}")

    def _count_condition(self, at: str) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            self.fail(at, f"a rule has at most {MAX_CONDITIONS} conditions")
            raise _GaveUpError

    def _count_values(self, condition: Condition) -> None:
        self.values += bound_values(condition)
        if self.values > MAX_RULE_VALUES:
            self.fail(
                condition.pointer,
                f"a rule holds at most {MAX_RULE_VALUES} values in all (a number of days or a"
                f" share counts twice), got {self.values} by here",
            )
            raise _GaveUpError

    def _all_or_any(
        self, items: object, at: str, parent: str, kind: str, depth: int
    ) -> AllOf | AnyOf | None:
        if not isinstance(items, list):
            self.fail(at, f"{kind!r} takes a list of rules, got {_json_kind(items)}")
            return None
        if not items:
            self.fail(at, f"an empty {kind!r} has no meaning; give it at least one rule")
            return None
        if len(items) > MAX_CONDITIONS:
            self.fail(at, f"a rule has at most {MAX_CONDITIONS} conditions")
            return None
        parsed = [self.rule(item, child(at, i), depth=depth + 1) for i, item in enumerate(items)]
        rules = tuple(rule for rule in parsed if rule is not None)
        if len(rules) != len(parsed):
            return None
        return AllOf(parent, rules) if kind == "and" else AnyOf(parent, rules)

    # -- conditions ----------------------------------------------------------------

    def _trait(self, value: dict[object, object], at: str) -> TraitCondition | None:
        name = value["trait"]
        trait = None
        if not isinstance(name, str):
            self.fail(child(at, "trait"), f"a trait is named by a string, got {_json_kind(name)}")
        elif name not in TRAITS:
            hint = (
                did_you_mean(name, tuple(TRAITS)) or f"; the traits are {_listing(tuple(TRAITS))}"
            )
            self.fail(child(at, "trait"), f"unknown trait {name[:80]!r}{hint}")
        else:
            trait = TRAITS[name]
        op = self._op(value, at, trait.ops if trait else ALL_OPS, trait.name if trait else None)
        if trait is None or op is None:
            return None
        values = self._operand(value, at, op, self._scalar_of(trait))
        return TraitCondition(at, trait, op, values) if values is not None else None

    def _scalar_of(self, trait: Trait) -> Callable[[object, str], Scalar | None]:
        def days(raw: object, at: str) -> int | None:
            found = self._whole(raw, at)
            if found is not None and not 0 <= found <= MAX_DAYS:
                self.fail(at, f"{trait.name} is between 0 and {MAX_DAYS} days, got {found}")
                return None
            return found

        parsers: dict[TraitKind, Callable[[object, str], Scalar | None]] = {
            TraitKind.NUMBER: self._number,
            TraitKind.WHOLE_NUMBER: self._whole,
            TraitKind.TIER: self._tier,
            TraitKind.DAYS: days,
        }
        return parsers[trait.kind]

    def _purchase(
        self, value: dict[object, object], at: str, kind: PurchaseKind
    ) -> PurchaseCondition | None:
        share = kind is PurchaseKind.SHARE_OF_CATEGORY
        target = self._target(
            value[kind.value], child(at, kind.value), SHARE_LEVELS if share else LEVELS, kind
        )
        weeks = self._within_weeks(value, at)
        if kind not in COMPARED_KINDS:
            if target is None or weeks is None:
                return None
            return PurchaseCondition(at, kind, target, weeks)
        op = self._op(value, at, AMOUNT_OPS, kind.value)
        scalar = self._share if share else self._number
        amounts = self._operand(value, at, op, scalar) if op is not None else None
        if target is None or weeks is None or op is None or amounts is None:
            return None
        return PurchaseCondition(at, kind, target, weeks, op, amounts)

    def _target(
        self, value: object, at: str, levels: tuple[str, ...], kind: PurchaseKind
    ) -> Target | None:
        if not isinstance(value, dict):
            self.fail(
                at,
                'a purchase target is an object such as {"level": "category", "name": "Coffee"}, '
                f"got {_json_kind(value)}",
            )
            return None
        self._unknown_keys(value, at, _TARGET_KEYS, "a purchase target")
        level = value.get("level")
        if level not in levels:
            got = "nothing" if "level" not in value else _json_kind(level)
            scope = "" if levels == LEVELS else f"for {kind.value!r} "
            self.fail(child(at, "level"), f"level {scope}is one of {_listing(levels)}, got {got}")
        name = self._name(value, at, "name", required=True)
        maker = self._name(value, at, "manufacturer", required=False)
        if "manufacturer" in value and level != "brand":
            self.fail(child(at, "manufacturer"), "only a brand target names its manufacturer")
            return None
        if level not in levels or name is None:
            return None
        return Target(at, str(level), name, maker)

    def _name(
        self, value: dict[object, object], at: str, key: str, *, required: bool
    ) -> str | None:
        if key not in value:
            if required:
                self.fail(child(at, key), f"a purchase target needs a {key}")
            return None
        name = value[key]
        if not isinstance(name, str) or not name.strip():
            self.fail(child(at, key), f"{key} is a non-empty string, got {_json_kind(name)}")
            return None
        if len(name) > MAX_NAME_LENGTH:
            self.fail(child(at, key), f"{key} is at most {MAX_NAME_LENGTH} characters")
            return None
        return name.strip()

    def _within_weeks(self, value: dict[object, object], at: str) -> int | None:
        where = child(at, "within_weeks")
        allowed = f"one of {_listing(WINDOWS_WEEKS)} (the windows spend is kept for)"
        if "within_weeks" not in value:
            self.fail(where, f"within_weeks is required: {allowed}")
            return None
        weeks = value["within_weeks"]
        if (
            isinstance(weeks, bool)
            or not isinstance(weeks, int | float)
            or weeks not in WINDOWS_WEEKS
        ):
            self.fail(where, f"within_weeks is {allowed}, got {_json_kind(weeks)}")
            return None
        return int(weeks)

    def _attribute(self, value: dict[object, object], at: str) -> AttributeCondition | None:
        name = value["attribute"]
        ok = isinstance(name, str) and _ATTRIBUTE_NAME.fullmatch(name) is not None
        if not ok:
            self.fail(
                child(at, "attribute"),
                "an attribute is named like its data-file column (ASCII letters, digits, '_', "
                f"'-', '.', spaces; at most 120 characters), got {_json_kind(name)}",
            )
        op = self._op(value, at, CHOICE_OPS, "an attribute")
        if op is None:
            return None
        values = self._operand(value, at, op, self._text)
        if not ok or values is None:
            return None
        return AttributeCondition(at, str(name), op, tuple(str(v) for v in values))

    def _shorthand(self, value: object, at: str, kind: str) -> TraitCondition | None:
        trait = TRAITS["value_tier" if kind == "value_tier" else "value_cluster"]
        values = self._list(value, child(at, kind), self._scalar_of(trait), what=kind)
        return TraitCondition(at, trait, Op.IN, values) if values is not None else None

    # -- operators and values ------------------------------------------------------

    def _op(
        self, value: dict[object, object], at: str, allowed: tuple[Op, ...], subject: str | None
    ) -> Op | None:
        where = child(at, "op")
        listing = _listing(tuple(op.value for op in allowed))
        if "op" not in value:
            self.fail(where, f"op is required: one of {listing}")
            return None
        raw = value["op"]
        if not isinstance(raw, str) or raw not in _OP_NAMES:
            self.fail(where, f"unknown op {_json_kind(raw)}; one of {listing}")
            return None
        op = Op(raw)
        if op not in allowed:
            self.fail(where, f"op {raw!r} does not apply to {subject}; one of {listing}")
            return None
        return op

    def _operand(
        self,
        value: dict[object, object],
        at: str,
        op: Op,
        scalar: Callable[[object, str], S | None],
    ) -> tuple[S, ...] | None:
        where = child(at, "value")
        if "value" not in value:
            self.fail(where, f"value is required for op {op.value!r}")
            return None
        raw = value["value"]
        if op is Op.IN:
            return self._list(raw, where, scalar, what="'in'")
        if op is Op.BETWEEN:
            return self._between(raw, where, scalar)
        found = scalar(raw, where)
        return (found,) if found is not None else None

    def _between(
        self, raw: object, at: str, scalar: Callable[[object, str], S | None]
    ) -> tuple[S, ...] | None:
        if not isinstance(raw, list) or len(raw) != 2:
            got = f"{len(raw)} values" if isinstance(raw, list) else _json_kind(raw)
            self.fail(at, f"'between' takes [low, high], got {got}")
            return None
        low, high = scalar(raw[0], child(at, 0)), scalar(raw[1], child(at, 1))
        if low is None or high is None:
            return None
        if low > high:  # type: ignore[operator]
            self.fail(at, f"the low end {low} is above the high end {high}")
            return None
        return (low, high)

    def _list(
        self, raw: object, at: str, scalar: Callable[[object, str], S | None], *, what: str
    ) -> tuple[S, ...] | None:
        if not isinstance(raw, list):
            self.fail(at, f"{what} takes a list of values, got {_json_kind(raw)}")
            return None
        if not raw:
            self.fail(at, f"an empty {what} list matches nobody; give at least one value")
            return None
        if len(raw) > MAX_LIST_VALUES:
            self.fail(at, f"{what} takes at most {MAX_LIST_VALUES} values, got {len(raw)}")
            return None
        found = [scalar(item, child(at, i)) for i, item in enumerate(raw)]
        values = tuple(item for item in found if item is not None)
        return values if len(values) == len(found) else None

    def _number(self, raw: object, at: str) -> int | float | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.fail(at, f"expected a number, got {_json_kind(raw)}")
            return None
        if not math.isfinite(raw) or abs(raw) > MAX_NUMBER:
            self.fail(at, f"numbers in a rule are between -{MAX_NUMBER} and {MAX_NUMBER}")
            return None
        return raw

    def _share(self, raw: object, at: str) -> int | float | None:
        number = self._number(raw, at)
        if number is None:
            return None
        if not 0 <= number <= 1:
            self.fail(at, f"a share of category requirements is between 0 and 1, got {number!r}")
            return None
        exponent = Decimal(str(number)).as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MAX_SHARE_DECIMALS:
            self.fail(
                at,
                f"a share of category requirements has at most {MAX_SHARE_DECIMALS} decimals, "
                f"got {number!r}",
            )
            return None
        return number

    def _whole(self, raw: object, at: str) -> int | None:
        if isinstance(raw, float) and math.isfinite(raw) and not raw.is_integer():
            self.fail(at, f"expected a whole number, got {raw!r}")
            return None
        number = self._number(raw, at)
        return int(number) if number is not None else None

    def _tier(self, raw: object, at: str) -> str | None:
        if not isinstance(raw, str) or raw not in VALUE_TIERS:
            self.fail(at, f"a value tier is one of {_listing(VALUE_TIERS)}, got {_json_kind(raw)}")
            return None
        return raw

    def _text(self, raw: object, at: str) -> str | None:
        if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) <= MAX_NUMBER:
            return str(raw)
        if not isinstance(raw, str):
            self.fail(at, f"attribute values are text (or whole numbers), got {_json_kind(raw)}")
            return None
        if len(raw) > MAX_TEXT_LENGTH:
            self.fail(at, f"attribute values are at most {MAX_TEXT_LENGTH} characters")
            return None
        return raw
