"""A pure-pandas reference evaluator of audience rules (the raw JSON), for the property test.

It shares nothing with the compiler but the meaning written in
``endcap.audiences.rules``: the universe is the profiles with traits; a
condition on a missing value does not hold; ``not`` is the complement; days are
whole days elapsed up to ``as_of``; spend on a target is summed over its keys,
and a profile without rows there spent 0; *new_to* is positive spend in the
window and no key of the target with spend before it in the 52 weeks; *units*
sums units as *spent* sums spend; *share_of_category* divides the spend on the
target by the spend on the categories it sells in (same window), exactly, and
holds only where that spend is positive; an attribute holds if any customer record of the
profile has it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pandas as pd

DERIVED = {"recency_days": "last_purchase_at", "tenure_days": "first_purchase_at"}


@dataclass(frozen=True)
class Frames:
    traits: pd.DataFrame  # indexed by profile_id, one column per trait
    spend: pd.DataFrame  # profile_id, level, key, spend_4w, ..., units_4w, ...
    customers: pd.DataFrame  # profile_id, attributes (a dict per record)
    keys: Callable[[dict[str, str]], Sequence[str]]  # a target → its spend keys
    categories: Callable[[dict[str, str]], Sequence[str]]  # a seller → where it sells
    as_of: datetime

    @classmethod
    def of(
        cls,
        traits: list[dict[str, Any]],
        spend: list[dict[str, Any]],
        customers: list[dict[str, Any]],
        keys: Callable[[dict[str, str]], Sequence[str]],
        categories: Callable[[dict[str, str]], Sequence[str]],
        as_of: datetime,
    ) -> Frames:
        numbers = [f"{m}_{w}w" for m in ("spend", "units") for w in (4, 13, 52)]
        spend_frame = pd.DataFrame(spend, columns=["profile_id", "level", "key", *numbers]).astype(
            dict.fromkeys(numbers, "float64")
        )
        trait_frame = pd.DataFrame(traits).set_index("profile_id") if traits else pd.DataFrame()
        return cls(
            traits=trait_frame,
            spend=spend_frame,
            customers=pd.DataFrame(customers, columns=["profile_id", "attributes"]),
            keys=keys,
            categories=categories,
            as_of=as_of,
        )


def members(rule: dict[str, Any], frames: Frames) -> set[int]:
    """The profile ids ``rule`` selects."""
    if frames.traits.empty:
        return set()
    selected = _holds(rule, frames)
    return {int(i) for i in selected[selected].index}


def _holds(rule: dict[str, Any], f: Frames) -> pd.Series:
    kind = next(key for key in _KINDS if key in rule)
    return _KINDS[kind](rule, f)


def _all(rule: dict[str, Any], f: Frames) -> pd.Series:
    return functools.reduce(operator.and_, (_holds(r, f) for r in rule["and"]))


def _any(rule: dict[str, Any], f: Frames) -> pd.Series:
    return functools.reduce(operator.or_, (_holds(r, f) for r in rule["or"]))


def _not(rule: dict[str, Any], f: Frames) -> pd.Series:
    return ~_holds(rule["not"], f)


def _compare(series: pd.Series, op: str, value: Any) -> pd.Series:
    if op == "between":
        return (series >= value[0]) & (series <= value[1])
    if op == "in":
        return series.isin(value)
    compare = {
        ">": operator.gt,
        ">=": operator.ge,
        "<": operator.lt,
        "<=": operator.le,
        "=": operator.eq,
        "!=": operator.ne,
    }[op]
    return compare(series, value)  # type: ignore[no-any-return]


def _trait_rule(rule: dict[str, Any], f: Frames) -> pd.Series:
    return _trait(rule["trait"], rule["op"], rule["value"], f)


def _tier(rule: dict[str, Any], f: Frames) -> pd.Series:
    return _trait("value_tier", "in", rule["value_tier"], f)


def _cluster(rule: dict[str, Any], f: Frames) -> pd.Series:
    return _trait("value_cluster", "in", rule["cluster"], f)


def _trait(name: str, op: str, value: Any, f: Frames) -> pd.Series:
    if name in DERIVED:
        elapsed = pd.Timestamp(f.as_of) - pd.to_datetime(f.traits[DERIVED[name]], utc=True)
        series = elapsed // pd.Timedelta(days=1)
    else:
        series = f.traits[name]
        if name != "value_tier":
            series = series.astype("float64")
    known = series.notna()
    return known & _compare(series, op, value).fillna(False).astype(bool)


def _purchase(rule: dict[str, Any], f: Frames) -> pd.Series:
    kind = next(k for k in ("bought", "spent", "units", "new_to") if k in rule)
    target = rule[kind]
    window = f"{'units' if kind == 'units' else 'spend'}_{rule['within_weeks']}w"
    spend = f.spend
    rows = spend[(spend["level"] == target["level"]) & spend["key"].isin(f.keys(target))]
    rows = rows.assign(earlier=(rows["spend_52w"] != rows[window]).astype(int))
    per_profile = rows.groupby("profile_id").agg(amount=(window, "sum"), earlier=("earlier", "sum"))
    per_profile = per_profile.reindex(f.traits.index, fill_value=0)
    amount = per_profile["amount"]
    if kind == "bought":
        return amount > 0
    if kind == "new_to":
        return (amount > 0) & (per_profile["earlier"] == 0)
    return _compare(amount, rule["op"], rule["value"])


def _share_of_category(rule: dict[str, Any], f: Frames) -> pd.Series:
    target = rule["share_of_category"]
    window = f"spend_{rule['within_weeks']}w"
    spend = f.spend

    def total(level: str, keys: Sequence[str]) -> pd.Series:
        rows = spend[(spend["level"] == level) & spend["key"].isin(keys)]
        summed = rows.groupby("profile_id")[window].sum()
        return summed.reindex(f.traits.index, fill_value=0.0).astype("float64")

    seller = total(target["level"], f.keys(target))
    category = total("category", f.categories(target))
    has_share = category > 0
    # Exactly: amounts as the fractions their floats are, values as their decimals write.
    shares = [
        Fraction(s) / Fraction(c) if c > 0 else None for s, c in zip(seller, category, strict=True)
    ]
    share = pd.Series(shares, index=seller.index, dtype=object)
    value = rule["value"]
    wanted = [_exact(v) for v in value] if isinstance(value, list) else _exact(value)
    known = share[has_share]
    held = _compare(known, rule["op"], wanted).astype(bool)
    return held.reindex(share.index, fill_value=False)


def _exact(value: float) -> Fraction:
    return Fraction(Decimal(str(value)))


def _attribute(rule: dict[str, Any], f: Frames) -> pd.Series:
    name, op, value = rule["attribute"], rule["op"], rule["value"]
    wanted = [str(v) for v in value] if op == "in" else str(value)
    found = f.customers["attributes"].map(lambda attributes: attributes.get(name))
    matches = found.notna() & _compare(found, op, wanted).fillna(False).astype(bool)
    profiles = set(f.customers.loc[matches, "profile_id"])
    return pd.Series(f.traits.index.isin(list(profiles)), index=f.traits.index)


_KINDS: dict[str, Callable[[dict[str, Any], Frames], pd.Series]] = {
    "and": _all,
    "or": _any,
    "not": _not,
    "trait": _trait_rule,
    "value_tier": _tier,
    "cluster": _cluster,
    "attribute": _attribute,
    "bought": _purchase,
    "spent": _purchase,
    "units": _purchase,
    "new_to": _purchase,
    "share_of_category": _share_of_category,
}
