"""Sensitive categories: a rule, propensity target, lookalike feature set or seed model that
touches a department or category the retailer marked sensitive is refused, by name."""

from __future__ import annotations

import pytest

from endcap.errors import InvalidRequestError
from endcap.privacy.sensitive import (
    CatalogReference,
    Level,
    ReferenceKind,
    SensitiveCategories,
    SensitiveCategoryError,
    SensitiveMatch,
    TargetingUse,
    ensure_not_sensitive,
    find_sensitive,
)
from endcap.privacy.settings import PrivacyGateSettings

RETAILER = SensitiveCategories(("Pharmacy", "Baby", "Alcohol"), categories=("Pregnancy Tests",))

coffee = CatalogReference(
    "/rule/and/0/category",
    ReferenceKind.CATEGORY,
    "Coffee & Tea",
    departments=frozenset({"Beverages"}),
)
beer = CatalogReference(
    "/rule/and/1/category", ReferenceKind.CATEGORY, "Beer", departments=frozenset({"Alcohol"})
)


def test_a_rule_on_beer_is_refused_naming_the_alcohol_department() -> None:
    with pytest.raises(SensitiveCategoryError) as refused:
        ensure_not_sensitive(TargetingUse.RULE, [coffee, beer], RETAILER)
    error = refused.value
    assert isinstance(error, InvalidRequestError)
    assert error.status_code == 422
    assert error.problem_type == "sensitive-category"
    assert error.detail == (
        "the audience rule uses the sensitive department 'Alcohol', "
        "which the retailer does not allow for targeting"
    )
    assert error.extra == {
        "errors": [
            {
                "field": "/rule/and/1/category",
                "message": "the category 'Beer' is in the sensitive department 'Alcohol'",
            }
        ]
    }


def test_a_rule_on_ordinary_categories_passes() -> None:
    ensure_not_sensitive(TargetingUse.RULE, [coffee], RETAILER)  # raises if refused
    ensure_not_sensitive(TargetingUse.RULE, [], RETAILER)

    assert find_sensitive([coffee], RETAILER) == []


def test_naming_a_sensitive_department_directly_is_refused() -> None:
    pharmacy = CatalogReference("/target/department", ReferenceKind.DEPARTMENT, "pharmacy ")
    with pytest.raises(SensitiveCategoryError) as refused:
        ensure_not_sensitive(TargetingUse.PROPENSITY_TARGET, [pharmacy], RETAILER)
    # Matched regardless of case and spaces, reported in the retailer's spelling.
    assert refused.value.detail.startswith(
        "the propensity target uses the sensitive department 'Pharmacy'"
    )
    assert refused.value.extra["errors"][0]["message"] == (
        "the department 'Pharmacy' is marked sensitive by the retailer"
    )


def test_a_category_marked_on_its_own_inside_an_ordinary_department_is_refused() -> None:
    tests = CatalogReference(
        "/features/4",
        ReferenceKind.SUBCATEGORY,
        "Home Tests",
        departments=frozenset({"Health & Beauty"}),
        categories=frozenset({"Pregnancy Tests"}),
    )
    with pytest.raises(SensitiveCategoryError, match="sensitive category 'Pregnancy Tests'"):
        ensure_not_sensitive(TargetingUse.LOOKALIKE_FEATURES, [tests], RETAILER)


def test_a_brand_selling_in_a_sensitive_department_is_refused_unless_scoped_out_of_it() -> None:
    everywhere = CatalogReference(
        "/rule/brand",
        ReferenceKind.BRAND,
        "Little Sprout",
        departments=frozenset({"Baby", "Snacks & Sweets"}),
    )
    with pytest.raises(SensitiveCategoryError) as refused:
        ensure_not_sensitive(TargetingUse.SEED_EXPANSION, [everywhere], RETAILER)
    assert refused.value.extra["errors"][0]["message"] == (
        "the brand 'Little Sprout' sells in the sensitive department 'Baby'"
    )
    scoped = CatalogReference(
        "/rule/brand",
        ReferenceKind.BRAND,
        "Little Sprout",
        departments=frozenset({"Snacks & Sweets"}),
        categories=frozenset({"Biscuits"}),
    )
    ensure_not_sensitive(TargetingUse.SEED_EXPANSION, [scoped], RETAILER)


def test_every_offending_reference_is_listed_and_every_sensitive_name_is_in_the_detail() -> None:
    nappies = CatalogReference(
        "/features/1", ReferenceKind.PRODUCT, "Nappies 4", departments=frozenset({"Baby"})
    )
    wine = CatalogReference(
        "/features/7", ReferenceKind.CATEGORY, "Wine", departments=frozenset({"Alcohol"})
    )
    with pytest.raises(SensitiveCategoryError) as refused:
        ensure_not_sensitive(TargetingUse.LOOKALIKE_FEATURES, [nappies, coffee, wine], RETAILER)
    assert refused.value.detail == (
        "the lookalike feature set uses the sensitive department 'Alcohol' and "
        "department 'Baby', which the retailer does not allow for targeting"
    )
    assert [e["field"] for e in refused.value.extra["errors"]] == ["/features/1", "/features/7"]


def test_find_sensitive_lists_matches_for_the_approver_without_refusing() -> None:
    assert find_sensitive([coffee, beer], RETAILER) == [
        SensitiveMatch(beer, Level.DEPARTMENT, "Alcohol")
    ]


def test_nothing_is_sensitive_when_the_retailer_marks_nothing() -> None:
    assert find_sensitive([beer], SensitiveCategories(departments=())) == []


def test_the_defaults_are_pharmacy_baby_and_alcohol() -> None:
    defaults = SensitiveCategories()
    names = {
        match.name
        for dept in ("Pharmacy", "Baby", "Alcohol", "Bakery")
        for match in defaults.matches(CatalogReference("/d", ReferenceKind.DEPARTMENT, dept))
    }
    assert names == {"Pharmacy", "Baby", "Alcohol"}


def test_the_policy_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDCAP_PRIVACY_SENSITIVE_DEPARTMENTS", '["Tobacco"]')
    monkeypatch.setenv("ENDCAP_PRIVACY_SENSITIVE_CATEGORIES", '["Beer"]')
    policy = SensitiveCategories.from_settings(PrivacyGateSettings())
    assert [m.name for m in find_sensitive([beer], policy)] == ["Beer"]
    tobacco = CatalogReference("/d", ReferenceKind.DEPARTMENT, "Tobacco")
    assert [m.level for m in find_sensitive([tobacco], policy)] == [Level.DEPARTMENT]
