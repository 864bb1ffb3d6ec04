"""Validating a rule (decoded JSON) into the tree of :mod:`endcap.audiences.rules`, with
every problem reported at its JSON pointer (the grammar and its limits are there)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TypeVar

from endcap.audiences.rules import (
    ALL_OPS,
    AMOUNT_OPS,
    ATTRIBUTE_NAME,
    CHOICE_OPS,
    COMPARED_KINDS,
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_ERRORS,
    MAX_LIST_VALUES,
    MAX_NAME_LENGTH,
    MAX_NUMBER,
    MAX_RULE_VALUES,
    MAX_SHARE_DECIMALS,
    MAX_TEXT_LENGTH,
    SHARE_LEVELS,
    TRAITS,
    VALUE_TIERS,
    AllOf,
    AnyOf,
    AttributeCondition,
    Condition,
    Not,
    Op,
    PurchaseCondition,
    PurchaseKind,
    Rule,
    Scalar,
    Target,
    Trait,
    TraitCondition,
    TraitKind,
    bound_values,
    did_you_mean,
    invalid_rule,
)
from endcap.json_pointer import child
from endcap.traits.models import LEVELS, WINDOWS_WEEKS

S = TypeVar("S", bound=Scalar)


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
        ok = isinstance(name, str) and ATTRIBUTE_NAME.fullmatch(name) is not None
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
