"""The rules grammar: what it accepts, and a JSON pointer to every part it refuses."""

from __future__ import annotations

import math
from typing import Any

import pytest

from endcap.audiences.rule_parser import parse_rule
from endcap.audiences.rules import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_LIST_VALUES,
    MAX_RULE_VALUES,
    TRAITS,
    AllOf,
    AnyOf,
    AttributeCondition,
    Not,
    Op,
    PurchaseCondition,
    PurchaseKind,
    Target,
    TraitCondition,
)
from endcap.db.base import table_of
from endcap.errors import InvalidRequestError
from endcap.traits.models import ProfileTraits

COFFEE = {"level": "category", "name": "Coffee"}
GEVALIA = {"level": "brand", "name": "Gevalia"}
TOP = {"value_tier": ["top"]}


def errors_of(rule: object, pointer: str = "") -> list[dict[str, str]]:
    with pytest.raises(InvalidRequestError) as refused:
        parse_rule(rule, pointer=pointer)
    assert refused.value.status_code == 422
    errors: list[dict[str, str]] = refused.value.extra["errors"]
    return errors


def only_error(rule: object) -> tuple[str, str]:
    errors = errors_of(rule)
    assert len(errors) == 1, errors
    return errors[0]["field"], errors[0]["message"]


def nested_not(levels: int) -> dict[str, Any]:
    rule: dict[str, Any] = TOP
    for _ in range(levels):
        rule = {"not": rule}
    return rule


def test_a_rule_with_every_kind_of_condition_parses_into_a_tree() -> None:
    rule = parse_rule(
        {
            "and": [
                {"trait": "spend_52w", "op": ">=", "value": 100},
                {"or": [{"value_tier": ["top", "high"]}, {"cluster": [2]}]},
                {"not": {"bought": {"level": "brand", "name": "Gevalia"}, "within_weeks": 4}},
                {"spent": COFFEE, "within_weeks": 13, "op": "between", "value": [20, 50.5]},
                {"new_to": {"level": "brand", "name": "Zoégas", "manufacturer": "Nestlé"},
                 "within_weeks": 52},
                {"attribute": "age_band", "op": "in", "value": ["25-34", 35]},
                {"trait": "recency_days", "op": "<=", "value": 30.0},
                {"units": COFFEE, "within_weeks": 4, "op": ">=", "value": 2.5},
                {"share_of_category": {"level": "manufacturer", "name": "Nestlé"},
                 "within_weeks": 52, "op": "between", "value": [0, 0.5]},
            ]
        }
    )  # fmt: skip

    assert rule == AllOf(
        "",
        (
            TraitCondition("/and/0", TRAITS["spend_52w"], Op.GE, (100,)),
            AnyOf(
                "/and/1",
                (
                    TraitCondition("/and/1/or/0", TRAITS["value_tier"], Op.IN, ("top", "high")),
                    TraitCondition("/and/1/or/1", TRAITS["value_cluster"], Op.IN, (2,)),
                ),
            ),
            Not(
                "/and/2",
                PurchaseCondition(
                    "/and/2/not",
                    PurchaseKind.BOUGHT,
                    Target("/and/2/not/bought", "brand", "Gevalia"),
                    4,
                ),
            ),
            PurchaseCondition(
                "/and/3",
                PurchaseKind.SPENT,
                Target("/and/3/spent", "category", "Coffee"),
                13,
                Op.BETWEEN,
                (20, 50.5),
            ),
            PurchaseCondition(
                "/and/4",
                PurchaseKind.NEW_TO,
                Target("/and/4/new_to", "brand", "Zoégas", "Nestlé"),
                52,
            ),
            AttributeCondition("/and/5", "age_band", Op.IN, ("25-34", "35")),
            TraitCondition("/and/6", TRAITS["recency_days"], Op.LE, (30,)),
            PurchaseCondition(
                "/and/7",
                PurchaseKind.UNITS,
                Target("/and/7/units", "category", "Coffee"),
                4,
                Op.GE,
                (2.5,),
            ),
            PurchaseCondition(
                "/and/8",
                PurchaseKind.SHARE_OF_CATEGORY,
                Target("/and/8/share_of_category", "manufacturer", "Nestlé"),
                52,
                Op.BETWEEN,
                (0, 0.5),
            ),
        ),
    )


def test_every_allowed_trait_is_a_profile_traits_column() -> None:
    columns = table_of(ProfileTraits).c
    assert {trait.column for trait in TRAITS.values()} <= set(columns.keys())


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        pytest.param(
            {"trait": "spend_52", "op": ">", "value": 1},
            "/trait",
            "unknown trait 'spend_52' (did you mean 'spend_52w'?)",
            id="unknown trait, with the close name",
        ),
        pytest.param(
            {"trait": "loyalty", "op": ">", "value": 1},
            "/trait",
            "unknown trait 'loyalty'; the traits are spend_52w, baskets_52w,",
            id="unknown trait, with the list",
        ),
        pytest.param(
            {"trait": 7, "op": ">", "value": 1},
            "/trait",
            "a trait is named by a string, got 7",
            id="trait name not a string",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": ">", "value": "100"},
            "/value",
            "expected a number, got the string '100'",
            id="string for a number",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": ">", "value": True},
            "/value",
            "expected a number, got true",
            id="bool for a number",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": ">", "value": None},
            "/value",
            "expected a number, got null",
            id="null for a number",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": ">", "value": [1]},
            "/value",
            "expected a number, got a list",
            id="list for a number",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": ">", "value": 1e10},
            "/value",
            "numbers in a rule are between -1000000000 and 1000000000",
            id="absurd number",
        ),
        pytest.param(
            {"trait": "p_alive", "op": ">", "value": math.nan},
            "/value",
            "numbers in a rule are between",
            id="not a number",
        ),
        pytest.param(
            {"trait": "baskets_52w", "op": ">", "value": 2.5},
            "/value",
            "expected a whole number, got 2.5",
            id="fraction for a count",
        ),
        pytest.param(
            {"trait": "recency_days", "op": "<", "value": -1},
            "/value",
            "recency_days is between 0 and 36500 days, got -1",
            id="negative days",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": "=>", "value": 1},
            "/op",
            "unknown op the string '=>'; one of >, >=, <, <=, =, !=, between, in",
            id="unknown op",
        ),
        pytest.param(
            {"trait": "value_tier", "op": ">", "value": "medium"},
            "/op",
            "op '>' does not apply to value_tier; one of =, !=, in",
            id="ordering a tier",
        ),
        pytest.param(
            {"trait": "value_tier", "op": "=", "value": "gold"},
            "/value",
            "a value tier is one of top, high, medium, low, lapsed, got the string 'gold'",
            id="unknown tier",
        ),
        pytest.param(
            {"trait": "spend_52w", "value": 1},
            "/op",
            "op is required: one of >, >=, <, <=, =, !=, between, in",
            id="missing op",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": "<"},
            "/value",
            "value is required for op '<'",
            id="missing value",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": "between", "value": [1]},
            "/value",
            "'between' takes [low, high], got 1 values",
            id="between with one value",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": "between", "value": [1, 2, 3]},
            "/value",
            "'between' takes [low, high], got 3 values",
            id="between with three values",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": "between", "value": 5},
            "/value",
            "'between' takes [low, high], got 5",
            id="between with a number",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": "between", "value": [10, 5]},
            "/value",
            "the low end 10 is above the high end 5",
            id="between upside down",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": "between", "value": [1, "x"]},
            "/value/1",
            "expected a number, got the string 'x'",
            id="between with a bad end",
        ),
        pytest.param(
            {"trait": "value_cluster", "op": "in", "value": []},
            "/value",
            "an empty 'in' list matches nobody; give at least one value",
            id="empty in",
        ),
        pytest.param(
            {"trait": "value_cluster", "op": "in", "value": [1, 2, "3"]},
            "/value/2",
            "expected a number, got the string '3'",
            id="in with a bad value",
        ),
        pytest.param(
            {"value_tier": ["top", "platinum"]},
            "/value_tier/1",
            "a value tier is one of top, high, medium, low, lapsed, got the string 'platinum'",
            id="shorthand tier",
        ),
        pytest.param(
            {"cluster": [1.5]}, "/cluster/0", "expected a whole number, got 1.5", id="cluster"
        ),
        pytest.param({"cluster": []}, "/cluster", "an empty cluster list", id="empty cluster"),
        pytest.param({"and": []}, "/and", "an empty 'and' has no meaning", id="empty and"),
        pytest.param({"or": []}, "/or", "an empty 'or' has no meaning", id="empty or"),
        pytest.param({"and": TOP}, "/and", "'and' takes a list of rules, got an object", id="and"),
        pytest.param(
            {"and": [TOP, {"or": [TOP, {"and": []}]}]},
            "/and/1/or/1/and",
            "an empty 'and'",
            id="empty and, nested",
        ),
        pytest.param([TOP], "", "a rule is a JSON object, got a list", id="not an object"),
        pytest.param({"and": [TOP, 3]}, "/and/1", "a rule is a JSON object, got 3", id="number"),
        pytest.param(
            {"adn": [TOP]},
            "",
            "a rule needs one of and, or, not, trait, bought, spent, units, new_to, "
            "share_of_category, value_tier, cluster, attribute (did you mean 'and'?)",
            id="misspelt combinator",
        ),
        pytest.param(
            {"and": [TOP], "or": [TOP]},
            "",
            "a rule has exactly one of and, or, not, trait, bought, spent, units, new_to, "
            "share_of_category, value_tier, cluster, attribute; this one has 'and' and 'or'",
            id="two kinds",
        ),
        pytest.param(
            {"trait": "spend_52w", "op": ">", "value": 1, "vaule": 2},
            "/vaule",
            "unknown field 'vaule' in a 'trait' rule (did you mean 'value'?)",
            id="unknown field",
        ),
        pytest.param(
            {"and": [{"value_tier": ["top"], "a/b~c": 1}]},
            "/and/0/a~1b~0c",
            "unknown field 'a/b~c'",
            id="pointer escaping",
        ),
        pytest.param(
            {"attribute": 'age"band', "op": "=", "value": "x"},
            "/attribute",
            "an attribute is named like its data-file column",
            id="attribute name",
        ),
        pytest.param(
            {"attribute": "ålder", "op": "=", "value": "40-49"},
            "/attribute",
            "an attribute is named like its data-file column (ASCII letters",
            id="non-ASCII attribute name",
        ),
        pytest.param(
            {"attribute": "age_band", "op": ">", "value": "x"},
            "/op",
            "op '>' does not apply to an attribute; one of =, !=, in",
            id="attribute op",
        ),
        pytest.param(
            {"attribute": "age_band", "op": "=", "value": 2.5},
            "/value",
            "attribute values are text (or whole numbers), got 2.5",
            id="attribute value",
        ),
        pytest.param(
            {"spent": COFFEE, "within_weeks": 13, "op": "=", "value": 20},
            "/op",
            "op '=' does not apply to spent; one of >, >=, <, <=, between",
            id="spent op",
        ),
        pytest.param(
            {"spent": COFFEE, "within_weeks": 13, "op": ">", "value": "20"},
            "/value",
            "expected a number, got the string '20'",
            id="spent value",
        ),
        pytest.param(
            {"units": COFFEE, "within_weeks": 13, "op": "in", "value": [2]},
            "/op",
            "op 'in' does not apply to units; one of >, >=, <, <=, between",
            id="units op",
        ),
        pytest.param(
            {"units": COFFEE, "within_weeks": 13, "op": ">", "value": True},
            "/value",
            "expected a number, got true",
            id="units value",
        ),
        pytest.param(
            {"units": COFFEE, "within_weeks": 26, "op": ">", "value": 1},
            "/within_weeks",
            "within_weeks is one of 4, 13, 52 (the windows spend is kept for), got 26",
            id="units window",
        ),
        pytest.param(
            {"share_of_category": GEVALIA, "within_weeks": 52, "op": ">=", "value": 50},
            "/value",
            "a share of category requirements is between 0 and 1, got 50",
            id="share as a percentage",
        ),
        pytest.param(
            {"share_of_category": GEVALIA, "within_weeks": 4, "op": "<", "value": 0.1 + 0.2},
            "/value",
            "a share of category requirements has at most 12 decimals, got 0.30000000000000004",
            id="share past twelve decimals",
        ),
        pytest.param(
            {
                "share_of_category": GEVALIA,
                "within_weeks": 52,
                "op": "between",
                "value": [0.5, 1.01],
            },
            "/value/1",
            "a share of category requirements is between 0 and 1, got 1.01",
            id="share range end",
        ),
        pytest.param(
            {
                "share_of_category": GEVALIA,
                "within_weeks": 52,
                "op": "between",
                "value": [0.8, 0.5],
            },
            "/value",
            "the low end 0.8 is above the high end 0.5",
            id="share range order",
        ),
        pytest.param(
            {"share_of_category": COFFEE, "within_weeks": 52, "op": ">", "value": 0.5},
            "/share_of_category/level",
            "level for 'share_of_category' is one of brand, manufacturer, got the string "
            "'category'",
            id="share of a category",
        ),
        pytest.param(
            {
                "share_of_category": GEVALIA,
                "within_weeks": 52,
                "op": ">",
                "value": 0.5,
                "category": "Coffee",
            },
            "/category",
            "unknown field 'category' in a 'share_of_category' rule",
            id="share unknown field",
        ),
        pytest.param(
            {"bought": {"level": "aisle", "name": "Coffee"}, "within_weeks": 13},
            "/bought/level",
            "level is one of department, category, brand, manufacturer, got the string 'aisle'",
            id="unknown level",
        ),
        pytest.param(
            {"bought": {"level": "category"}, "within_weeks": 13},
            "/bought/name",
            "a purchase target needs a name",
            id="target without a name",
        ),
        pytest.param(
            {"bought": {"level": "category", "name": "  "}, "within_weeks": 13},
            "/bought/name",
            "name is a non-empty string, got the string '  '",
            id="blank name",
        ),
        pytest.param(
            {"new_to": {**COFFEE, "manufacturer": "Acme"}, "within_weeks": 13},
            "/new_to/manufacturer",
            "only a brand target names its manufacturer",
            id="manufacturer on a category",
        ),
        pytest.param(
            {"bought": "Coffee", "within_weeks": 13},
            "/bought",
            "a purchase target is an object",
            id="target not an object",
        ),
        pytest.param(
            {"bought": {**COFFEE, "brand": "X"}, "within_weeks": 13},
            "/bought/brand",
            "unknown field 'brand' in a purchase target",
            id="unknown target field",
        ),
        pytest.param(
            {"bought": COFFEE},
            "/within_weeks",
            "within_weeks is required: one of 4, 13, 52 (the windows spend is kept for)",
            id="no window",
        ),
    ],
)
def test_a_bad_rule_is_refused_with_a_pointer_to_the_offending_part(
    rule: object, field: str, message: str
) -> None:
    found_field, found_message = only_error(rule)
    assert found_field == field
    assert found_message.startswith(message), found_message


@pytest.mark.parametrize("weeks", [0, -1, 1000, 7, 12.5, "13", True, None, [13]])
def test_a_window_spend_is_not_kept_for_is_refused_with_the_allowed_ones(weeks: object) -> None:
    rule = {"and": [TOP, {"not": TOP}, {"bought": COFFEE, "within_weeks": weeks}]}
    field, message = only_error(rule)
    assert field == "/and/2/within_weeks"
    assert message.startswith("within_weeks is one of 4, 13, 52 (the windows spend is kept for)")


def test_a_window_given_as_13_point_0_is_13_weeks() -> None:
    rule = parse_rule({"bought": COFFEE, "within_weeks": 13.0})
    assert isinstance(rule, PurchaseCondition)
    assert rule.within_weeks == 13


def test_rules_nest_at_most_eight_deep() -> None:
    parse_rule(nested_not(MAX_DEPTH - 1))  # the condition itself is the eighth level

    field, message = only_error({"and": [TOP, nested_not(MAX_DEPTH - 1)]})

    assert field == "/and/1" + "/not" * (MAX_DEPTH - 1)  # the ninth level
    assert message == "rules nest at most 8 levels deep"


def test_a_rule_has_at_most_a_hundred_conditions() -> None:
    parse_rule({"or": [TOP] * MAX_CONDITIONS})
    assert only_error({"or": [TOP] * (MAX_CONDITIONS + 1)}) == (
        "/or",
        "a rule has at most 100 conditions",
    )
    # Counted across the whole rule; the pointer names the first condition too many.
    spread = {"and": [{"or": [TOP] * 60}, {"or": [TOP] * 60}]}
    assert only_error(spread) == ("/and/1/or/40", "a rule has at most 100 conditions")


def _codes(n: int) -> dict[str, Any]:
    values = [f"{i:05}" for i in range(n)]
    return {"attribute": "postal_code", "op": "in", "value": values}


def test_a_rule_holds_at_most_ten_thousand_values_in_all() -> None:
    # Each list is within its own limit; together they would outgrow what one SQL
    # statement may bind (PostgreSQL's protocol: 32767 parameters).
    full = MAX_RULE_VALUES // MAX_LIST_VALUES
    parse_rule({"or": [_codes(MAX_LIST_VALUES)] * full})

    field, message = only_error({"or": [_codes(MAX_LIST_VALUES)] * full + [_codes(1)]})

    assert field == f"/or/{full}"
    assert message == (
        "a rule holds at most 10000 values in all (a number of days or a share counts"
        " twice), got 10001 by here"
    )


def test_days_and_shares_count_twice_towards_the_values_in_all() -> None:
    # A day count is bound as two cut-offs, a share as the two terms of its fraction.
    days = {"trait": "recency_days", "op": "in", "value": list(range(MAX_LIST_VALUES))}
    half = MAX_RULE_VALUES // (2 * MAX_LIST_VALUES)
    parse_rule({"or": [days] * half})
    assert only_error({"or": [days] * half + [TOP]})[0] == f"/or/{half}"
    share = {"share_of_category": GEVALIA, "within_weeks": 52, "op": ">", "value": 0.5}
    assert only_error({"or": [_codes(MAX_LIST_VALUES)] * 9 + [_codes(999), share]})[0] == ("/or/10")


def test_every_problem_is_listed_in_document_order_with_the_first_in_the_detail() -> None:
    rule = {
        "and": [
            {"trait": "spend_52w", "op": ">", "value": "a lot"},
            {"or": []},
            {"bought": {"level": "category", "name": "Tea"}, "within_weeks": 5},
        ]
    }
    with pytest.raises(InvalidRequestError) as refused:
        parse_rule(rule, pointer="/rule")

    assert [e["field"] for e in refused.value.extra["errors"]] == [
        "/rule/and/0/value",
        "/rule/and/1/or",
        "/rule/and/2/within_weeks",
    ]
    assert refused.value.detail == (
        "the audience rule is not valid at /rule/and/0/value: "
        "expected a number, got the string 'a lot' (and 2 more)"
    )


def test_a_flood_of_bad_parts_is_cut_short() -> None:
    errors = errors_of({"and": [1] * 99})
    assert len(errors) == 50
    assert errors[-1]["field"] == "/and/49"
