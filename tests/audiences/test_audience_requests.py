"""Audience requests that looked valid but could never work, or were taken with a part
silently ignored: each is a 422 naming the part, and nothing is stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from tests.audiences.http import create

BIG = {"trait": "spend_52w", "op": ">", "value": 0}


def _codes(start: int, n: int = 1000) -> dict[str, Any]:
    values = [f"{i:06}" for i in range(start, start + n)]
    return {"attribute": "postal_code", "op": "in", "value": values}


def _fields(error: EndcapAPIError) -> list[str]:
    return [e["field"] for e in error.problem.get("errors", [])]


def _refused(admin: EndcapClient, method: str, path: str, body: dict[str, Any]) -> EndcapAPIError:
    with pytest.raises(EndcapAPIError) as refused:
        admin.request(method, path, json=body)
    return refused.value


def test_a_rule_of_ten_thousand_values_is_sized(admin: EndcapClient) -> None:
    rule = {"or": [_codes(1000 * i) for i in range(10)]}
    answer = admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule})
    assert answer.json()["size"] == 0  # no shopper has these postal codes


@pytest.mark.parametrize(
    "rule",
    [
        {"or": [_codes(1000 * i) for i in range(33)]},
        {"or": [{"trait": "spend_52w", "op": "in", "value": list(range(1000))}] * 100},
    ],
    ids=["33 postal code lists", "100 spend lists"],
)
def test_a_rule_of_more_values_than_one_statement_can_bind_is_422_not_503(
    admin: EndcapClient, rule: dict[str, Any]
) -> None:
    error = _refused(admin, "POST", "/api/v1/audiences/estimate", {"rule": rule})
    assert error.status == 422, error.problem
    assert _fields(error) == ["/rule/or/10"]
    assert "at most 10000 values in all" in error.problem["detail"]


def test_an_audience_of_too_many_values_is_not_created(admin: EndcapClient) -> None:
    name = f"too many codes {uuid.uuid4().hex[:6]}"
    rule = {"or": [_codes(1000 * i) for i in range(40)]}
    error = _refused(admin, "POST", "/api/v1/audiences", {"name": name, "rule": rule})
    assert error.status == 422
    assert _fields(error) == ["/rule/or/10"]
    listed = admin.request("GET", "/api/v1/audiences", params={"limit": 200}).json()["items"]
    assert name not in {a["name"] for a in listed}


def test_a_manufacturer_on_a_propensity_target_other_than_a_brand_is_refused(
    admin: EndcapClient,
) -> None:
    target = {"level": "category", "name": "Fruit", "manufacturer": "X"}
    body = {
        "name": f"fruit {uuid.uuid4().hex[:6]}",
        "propensity": {"target": target, "horizon_weeks": 4, "select": {"top_share": 0.2}},
    }
    error = _refused(admin, "POST", "/api/v1/audiences", body)
    assert error.status == 422
    assert _fields(error) == ["/propensity/target/manufacturer"]
    assert "only a brand target names its manufacturer" in error.problem["detail"]


@pytest.mark.parametrize("reach", ["1500", 1500.0, True])
def test_a_lookalike_reach_is_a_json_integer(admin: EndcapClient, reach: object) -> None:
    body = {
        "name": f"like {uuid.uuid4().hex[:6]}",
        "lookalike": {"reach": reach, "seed": {"customer_ids": ["c1"]}},
    }
    error = _refused(admin, "POST", "/api/v1/audiences", body)
    assert error.status == 422
    assert any("reach" in field for field in _fields(error)), error.problem


@pytest.mark.parametrize("weeks", ["4", 4.0])
def test_a_propensity_horizon_is_a_json_integer(admin: EndcapClient, weeks: object) -> None:
    target = {"level": "department", "name": "Frozen"}
    body = {
        "name": f"frozen {uuid.uuid4().hex[:6]}",
        "propensity": {"target": target, "horizon_weeks": weeks, "select": {"top_share": 0.2}},
    }
    error = _refused(admin, "POST", "/api/v1/audiences", body)
    assert error.status == 422
    assert any("horizon_weeks" in field for field in _fields(error)), error.problem


BAD_NAMES = [
    "",
    "   ",
    "\t\n ",
    " padded ",
    "ctrl\u202e",
    "bell\u0007",
    "zero\u200bwidth",
    "x" * 201,
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_blank_name_or_one_with_control_characters_is_refused(
    admin: EndcapClient, name: str
) -> None:
    error = _refused(admin, "POST", "/api/v1/audiences", {"name": name, "rule": BIG})
    assert error.status == 422
    assert _fields(error) == ["/name"]

    audience = create(admin, rule=BIG)
    path = f"/api/v1/audiences/{audience.id}"
    with pytest.raises(EndcapAPIError) as refused:
        admin.request("PATCH", path, json={"name": name}, headers={"If-Match": '"1"'})
    assert refused.value.status == 422
    assert _fields(refused.value) == ["/name"]
    assert admin.request("GET", path).json()["name"] == audience.name


def test_names_keep_their_letters_and_inner_spaces(admin: EndcapClient) -> None:
    name = f"Kaffe & te: 25-34 år, «Göteborg» {uuid.uuid4().hex[:6]}"
    assert create(admin, rule=BIG, name=name).name == name


@pytest.mark.parametrize(
    "select", [{"top_share": "0.2"}, {"top_share": True}, {"min_score": "0.5"}]
)
def test_a_propensity_cut_is_a_json_number(admin: EndcapClient, select: dict[str, object]) -> None:
    target = {"level": "department", "name": "Frozen"}
    body = {
        "name": f"frozen {uuid.uuid4().hex[:6]}",
        "propensity": {"target": target, "horizon_weeks": 4, "select": select},
    }
    error = _refused(admin, "POST", "/api/v1/audiences", body)
    assert error.status == 422
    assert _fields(error) == [f"/propensity/select/{next(iter(select))}"], error.problem


def test_a_description_brands_read_holds_no_hidden_characters(admin: EndcapClient) -> None:
    """Brands read the description in the catalog: line breaks yes, a bidi override no."""
    rule = {"trait": "spend_52w", "op": ">", "value": 0}
    name = f"described {uuid.uuid4().hex[:6]}"
    error = _refused(
        admin, "POST", "/api/v1/audiences", {"name": name, "rule": rule, "description": "a\u202eb"}
    )
    created = admin.request(
        "POST",
        "/api/v1/audiences",
        json={"name": name, "rule": rule, "description": "Coffee lovers\n\tand tea"},
    )
    assert (error.status, _fields(error)) == (422, ["/description"])
    assert created.json()["description"] == "Coffee lovers\n\tand tea"


def test_a_seed_of_many_bad_hashes_names_the_first_and_counts_them_all(
    admin: EndcapClient,
) -> None:
    body = {
        "name": f"like {uuid.uuid4().hex[:6]}",
        "lookalike": {"reach": 5_000, "seed": {"email_sha256": ["zz"] * 300}},
    }
    error = _refused(admin, "POST", "/api/v1/audiences", body)
    assert error.status == 422
    assert len(_fields(error)) == 20
    assert _fields(error)[0] == "/lookalike/seed/email_sha256/0"
    assert error.problem["errors_total"] == 300
