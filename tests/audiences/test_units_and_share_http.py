"""The ``units`` and ``share_of_category`` conditions over real HTTP, on a hand-made shop
loaded through the normal loaders into a database and server of this module's own (the
package's synthetic retailer would make the counts a matter of chance).

The shop, as of 2026-06-01 (its newest purchase): Coffee sells brands Brew (made by Brew
Co) and Bean (Bean Co); Tea sells Leaf; Cheers (Cheers Co) sells Beer (in the sensitive
department Alcohol) and Soda. Purchases (weeks before as_of, units, value):

    s1  Brew 1 w, 3 for 30.00; Bean 20 w, 7 for 70.00
    s2  Brew 2 w, 1 for 10.00
    s3  Bean 8 w, 2 for 20.00
    s4  Leaf 0 w, 5 for 25.00 (no Coffee)
    s5  Brew 30 w, 4 for 40.00; Bean 1 w, 6 for 60.00

Units of Coffee over 4 / 13 / 52 weeks: s1 3/3/10, s2 1/1/1, s3 0/2/2, s4 none, s5 6/6/10.
Brew's share of Coffee over 4 / 13 / 52 weeks: s1 1/1/0.3, s2 1/1/1, s3 none/0/0, s4 none,
s5 0/0/0.4.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from endcap.jobs.schemas import JobPublic
from tests.audiences.http import create_rule, refresh
from tests.support.server import ServerProcess
from tests.support.stack import module_stack

TAG = uuid.uuid4().hex[:6]
COFFEE = {"level": "category", "name": f"Coffee {TAG}"}
BREW = {"level": "brand", "name": f"Brew {TAG}"}
SHOPPERS = ("s1", "s2", "s3", "s4", "s5")
FILES = {
    "products": (
        "sku,name,brand,manufacturer,category,department\n"
        f"{TAG}-brew,Brew coffee,Brew {TAG},Brew Co {TAG},Coffee {TAG},Pantry {TAG}\n"
        f"{TAG}-bean,Bean coffee,Bean {TAG},Bean Co {TAG},Coffee {TAG},Pantry {TAG}\n"
        f"{TAG}-leaf,Leaf tea,Leaf {TAG},Leaf Co {TAG},Tea {TAG},Pantry {TAG}\n"
        f"{TAG}-beer,Cheers beer,Cheers {TAG},Cheers Co {TAG},Beer {TAG},Alcohol\n"
        f"{TAG}-soda,Cheers soda,Cheers {TAG},Cheers Co {TAG},Soda {TAG},Pantry {TAG}\n"
    ),
    "customers": "customer_id\n" + "".join(f"{TAG}-{s}\n" for s in SHOPPERS),
    "identifiers": "customer_id,id_type,id_value\n"
    + "".join(f"{TAG}-{s},loyalty_card,L{TAG}{s}\n" for s in SHOPPERS),
    "transactions": (
        "transaction_id,line_no,occurred_at,sku,quantity,sales_value,customer_id,channel\n"
        f"{TAG}-t1,1,2026-05-25T10:00:00Z,{TAG}-brew,3,30.00,{TAG}-s1,store\n"
        f"{TAG}-t2,1,2026-01-12T10:00:00Z,{TAG}-bean,7,70.00,{TAG}-s1,store\n"
        f"{TAG}-t3,1,2026-05-18T10:00:00Z,{TAG}-brew,1,10.00,{TAG}-s2,online\n"
        f"{TAG}-t4,1,2026-04-06T10:00:00Z,{TAG}-bean,2,20.00,{TAG}-s3,store\n"
        f"{TAG}-t5,1,2026-06-01T00:00:00Z,{TAG}-leaf,5,25.00,{TAG}-s4,store\n"
        f"{TAG}-t6,1,2025-11-03T10:00:00Z,{TAG}-brew,4,40.00,{TAG}-s5,store\n"
        f"{TAG}-t7,1,2026-05-25T10:00:00Z,{TAG}-bean,6,60.00,{TAG}-s5,store\n"
    ),
}


stack, server, admin_key = module_stack("hand_rules")


@pytest.fixture(scope="module")
def shop(server: ServerProcess, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("hand-shop")
    with EndcapClient(server.base_url, admin_key, timeout=60) as admin:
        for entity, body in FILES.items():
            path = folder / f"{entity}.csv"
            path.write_text(body, encoding="utf-8")
            done = admin.wait(admin.upload(entity, Path(path)).id, timeout=120)
            assert done.status == "succeeded", done.error
        job = JobPublic.model_validate(admin.request("POST", "/api/v1/traits/refresh").json())
        done = admin.wait(job.id, timeout=300)
        assert done.status == "succeeded", done.error
        assert done.result is not None
        assert done.result["report"]["as_of"].startswith("2026-06-01T00:00:00")


def size(admin: EndcapClient, rule: dict[str, Any]) -> int:
    answer = admin.request(
        "POST", "/api/v1/audiences/estimate", json={"rule": rule, "exact": True}
    ).json()
    assert answer["exact"] is True
    return int(answer["size"])


def units(weeks: int, op: str, value: Any, target: dict[str, str] = COFFEE) -> dict[str, Any]:
    return {"units": target, "within_weeks": weeks, "op": op, "value": value}


def share(weeks: int, op: str, value: Any, target: dict[str, str] = BREW) -> dict[str, Any]:
    return {"share_of_category": target, "within_weeks": weeks, "op": op, "value": value}


UNITS_CASES = [
    (units(4, ">=", 3), 2),  # s1, s5
    # 3 in 4 weeks and 10 in 52 weeks: s1 only (s5 has 6 in 4 weeks).
    ({"and": [units(4, "<=", 3), units(52, ">=", 10)]}, 1),
    (units(13, "between", [1, 3]), 3),  # s1, s2, s3
    (units(13, "<", 2), 2),  # s2, and s4 with no Coffee at all (0 units)
    ({"not": units(52, ">", 0)}, 1),  # s4
]
SHARE_CASES = [
    (share(52, ">=", 0.3), 3),  # s1 (30 of 100 exactly), s2, s5
    (share(52, "between", [0.3, 0.4]), 2),  # s1, s5
    (share(52, "<", 0.3), 1),  # s3; s4 bought no Coffee: no share, never matches
    ({"not": share(52, ">=", 0.3)}, 2),  # s3, s4
    (share(13, ">=", 1), 2),  # s1 (Bean was 20 weeks back), s2
    (share(4, "<=", 0), 1),  # s5; s3 bought no Coffee in 4 weeks
    (share(52, ">", 0.35, {"level": "manufacturer", "name": f"Brew Co {TAG}"}), 2),  # s2, s5
]


@pytest.mark.parametrize(("rule", "expected"), UNITS_CASES + SHARE_CASES)
def test_exact_sizes_are_the_hand_counted_members(
    admin: EndcapClient, shop: None, rule: dict[str, Any], expected: int
) -> None:
    assert size(admin, rule) == expected


def test_refreshed_audiences_on_units_and_share_have_the_hand_counted_size(
    admin: EndcapClient, shop: None
) -> None:
    for rule, expected in (UNITS_CASES[1], SHARE_CASES[0]):
        audience = refresh(admin, create_rule(admin, rule).id)
        assert audience.current is not None
        assert audience.current.size == expected, rule


def test_a_profiles_spend_shows_units_and_the_share_of_category(
    admin: EndcapClient, shop: None
) -> None:
    profile_id = admin.lookup("loyalty_card", f"L{TAG}s1").profiles[0].profile_id

    rows = admin.request("GET", f"/api/v1/traits/profiles/{profile_id}/spend").json()
    brands = admin.request(
        "GET", f"/api/v1/traits/profiles/{profile_id}/spend", params={"level": "brand"}
    ).json()

    coffee = next(r for r in rows if r["level"] == "category")
    assert (coffee["key"], coffee["name"], coffee["share_of_category"]) == (
        f"Coffee {TAG}",
        f"Coffee {TAG}",
        None,
    )
    assert [Decimal(coffee[f"units_{w}w"]) for w in (4, 13, 52)] == [3, 3, 10]
    assert [Decimal(coffee[f"spend_{w}w"]) for w in (4, 13, 52)] == [30, 30, 100]
    assert {r["level"] for r in rows} == {"department", "category", "brand", "manufacturer"}
    shares = {(r["name"], r["manufacturer"]): r["share_of_category"] for r in brands}
    assert shares == {
        (f"Brew {TAG}", f"Brew Co {TAG}"): {"w4": 1.0, "w13": 1.0, "w52": 0.3},
        (f"Bean {TAG}", f"Bean Co {TAG}"): {"w4": 0.0, "w13": 0.0, "w52": 0.7},
    }
    with pytest.raises(EndcapAPIError) as bad:
        admin.request(
            "GET", f"/api/v1/traits/profiles/{profile_id}/spend", params={"level": "aisle"}
        )
    assert bad.value.status == 422


BAD_RULES = [
    # wrong types
    (units(4, ">=", "three"), "/rule/value", "expected a number, got the string 'three'"),
    (share(52, ">=", [0.5]), "/rule/value", "expected a number, got a list"),
    ({"units": f"Coffee {TAG}", "within_weeks": 4, "op": ">", "value": 1}, "/rule/units",
     "a purchase target is an object"),
    # values out of range
    (share(52, ">=", 1.5), "/rule/value",
     "a share of category requirements is between 0 and 1, got 1.5"),
    (share(52, "between", [0.2, 2]), "/rule/value/1",
     "a share of category requirements is between 0 and 1, got 2"),
    (share(52, ">", -0.1), "/rule/value",
     "a share of category requirements is between 0 and 1, got -0.1"),
    (units(4, ">", 10**12), "/rule/value", "numbers in a rule are between"),
    (share(52, "in", [0.5]), "/rule/op", "op 'in' does not apply to share_of_category"),
    # a share is a seller's: not a category's
    (share(52, ">", 0.5, COFFEE), "/rule/share_of_category/level",
     "level for 'share_of_category' is one of brand, manufacturer, got the string 'category'"),
    # unknown names
    (share(52, ">", 0.5, {"level": "brand", "name": "Brwe"}), "/rule/share_of_category/name",
     "no brand 'Brwe' in the catalog"),
    (units(4, ">", 1, {"level": "category", "name": f"Cofee {TAG}"}), "/rule/units/name",
     f"no category 'Cofee {TAG}' in the catalog (did you mean 'Coffee {TAG}'"),
    # absurd windows
    (units(1000, ">", 1), "/rule/within_weeks", "within_weeks is one of 4, 13, 52"),
    (share(0.5, ">", 0.5), "/rule/within_weeks", "within_weeks is one of 4, 13, 52"),
    ({"share_of_category": BREW, "op": ">", "value": 0.5}, "/rule/within_weeks",
     "within_weeks is required"),
]  # fmt: skip


# Ids without the run's TAG, so that every pytest-xdist worker collects the same ones.
@pytest.mark.parametrize(
    ("rule", "pointer", "message"),
    BAD_RULES,
    ids=[f"{n}{pointer}" for n, (_, pointer, _) in enumerate(BAD_RULES)],
)
def test_bad_units_and_share_rules_are_422_with_a_pointer(
    admin: EndcapClient, shop: None, rule: dict[str, Any], pointer: str, message: str
) -> None:
    with pytest.raises(EndcapAPIError) as bad:
        admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule})
    assert bad.value.status == 422
    errors = bad.value.problem["errors"]
    assert [e["field"] for e in errors] == [pointer], errors
    assert errors[0]["message"].startswith(message), errors


def test_a_share_of_a_brand_selling_in_a_sensitive_department_is_refused_naming_it(
    admin: EndcapClient, shop: None
) -> None:
    rule = {
        "and": [
            units(13, ">", 0),
            share(52, ">=", 0.5, {"level": "brand", "name": f"Cheers {TAG}"}),
        ]
    }
    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule})

    assert refused.value.status == 422
    assert refused.value.problem["type"].endswith("sensitive-category")
    assert "department 'Alcohol'" in refused.value.detail
    assert refused.value.problem["errors"] == [
        {
            "field": "/rule/and/1/share_of_category/name",
            "message": f"the brand 'Cheers {TAG}' sells in the sensitive department 'Alcohol'",
        }
    ]


def test_a_department_holding_a_sensitive_category_is_refused_as_rule_and_target(
    admin: EndcapClient, shop: None, server: ServerProcess, admin_key: str, tmp_path: Path
) -> None:
    """A department's spend is its categories' spend: with Tea marked sensitive, "bought
    in Pantry" would reach the shoppers whose Pantry spend is Tea alone (s4 here)."""
    pantry = {"level": "department", "name": f"Pantry {TAG}"}
    rule = {"bought": pantry, "within_weeks": 52}
    assert size(admin, rule) == 5  # allowed while Tea is not marked

    env = {
        **server.env,
        "ENDCAP_WORKER_IN_PROCESS": "false",
        "ENDCAP_PRIVACY_SENSITIVE_CATEGORIES": json.dumps([f"Tea {TAG}"]),
    }
    marked = ServerProcess(env, tmp_path / "tea-sensitive.log").start()
    reason = f"the department 'Pantry {TAG}' holds the sensitive category 'Tea {TAG}'"
    try:
        with EndcapClient(marked.base_url, admin_key, timeout=60) as strict:
            with pytest.raises(EndcapAPIError) as refused:
                strict.request("POST", "/api/v1/audiences/estimate", json={"rule": rule})
            assert refused.value.status == 422
            assert refused.value.problem["type"].endswith("sensitive-category")
            assert refused.value.problem["errors"] == [
                {"field": "/rule/bought/name", "message": reason}
            ]
            propensity = {
                "target": pantry,
                "horizon_weeks": 4,
                "select": {"top_share": 0.5},
            }
            with pytest.raises(EndcapAPIError) as target:
                strict.request(
                    "POST",
                    "/api/v1/audiences",
                    json={"name": f"pantry buyers {TAG}", "propensity": propensity},
                )
            assert target.value.status == 422
            assert target.value.problem["type"].endswith("sensitive-category")
            assert [e["message"] for e in target.value.problem["errors"]] == [reason]
            # Its other categories stay open.
            coffee = {"bought": COFFEE, "within_weeks": 52}
            answer = strict.request(
                "POST", "/api/v1/audiences/estimate", json={"rule": coffee, "exact": True}
            )
            assert answer.json()["size"] == 4  # s1, s2, s3, s5
    finally:
        marked.stop()
