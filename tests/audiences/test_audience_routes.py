"""Audiences over real HTTP, on a synthetic retailer loaded through the normal loaders:
estimate, create, refresh (a job), publish through the privacy gate, and the brand's
catalog view. Includes the classic attack: audience A, then A minus one shopper."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from endcap.audiences.schemas import AudiencePublic
from endcap.audiences.service import AudienceService
from endcap.client import EndcapAPIError, EndcapClient
from endcap.config import DatabaseSettings
from endcap.db.engine import create_engine, create_session_factory
from endcap.privacy.difference import TooSimilarAudienceError
from endcap.privacy.settings import PrivacyGateSettings
from endcap.traits.service import TraitsService
from tests.audiences.conftest import PROFILES
from tests.audiences.http import CATALOG_KEYS, create, create_rule, refresh
from tests.support.retailer import SHOWN_PURPOSES, unique_postal_codes
from tests.support.server import ServerProcess

BIG = {"trait": "spend_52w", "op": ">", "value": 0}


def test_estimate_equals_the_refreshed_size(admin: EndcapClient, retailer: dict[str, Any]) -> None:
    rule = {
        "and": [
            BIG,
            {"bought": {"level": "department", "name": "Dairy & Chilled"}, "within_weeks": 52},
        ]
    }
    answer = admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule}).json()
    estimate = answer["size"]
    # Too few shoppers for the estimate sample: counted exactly.
    assert answer == {
        "size": estimate, "low": estimate, "high": estimate, "exact": True,
        "sampled_profiles": None,
    }  # fmt: skip

    audience = refresh(admin, create_rule(admin, rule).id)

    assert audience.current is not None
    assert audience.current.size == estimate
    assert 0 < estimate <= PROFILES
    # Reach per channel only counts members holding that channel's consent.
    assert audience.current.reach["email"] < audience.current.size
    assert audience.current.reach["offsite_social"] < audience.current.reach["onsite_display"]


async def _refresh_traits(url: str, sample_profiles: int) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with create_session_factory(engine)() as session:
            await TraitsService(session, sample_profiles=sample_profiles).refresh()
            await session.commit()
    finally:
        await engine.dispose()


async def _a_dairy_brand(url: str) -> str:
    """The brand with the most products, all of them in dairy (the store brand sells in
    the sensitive departments too)."""
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text(
                    "SELECT b.name FROM brands b JOIN products p ON p.brand_id = b.id"
                    " GROUP BY b.name HAVING min(p.department) = 'Dairy & Chilled'"
                    " AND max(p.department) = 'Dairy & Chilled'"
                    " ORDER BY count(*) DESC, b.name LIMIT 1"
                )
            )
            return str(found.scalar_one())
    finally:
        await engine.dispose()


def test_an_estimate_on_the_sample_brackets_the_exact_size(
    admin: EndcapClient, retailer: dict[str, Any], shop_database: str
) -> None:
    baskets = {"trait": "baskets_52w", "op": ">=", "value": 5}
    brand = asyncio.run(_a_dairy_brand(shop_database))
    share = {
        "share_of_category": {"level": "brand", "name": brand},
        "within_weeks": 52,
        "op": ">=",
        "value": 0.05,
    }
    rules = [{"and": [BIG, baskets]}, {"and": [share, baskets]}]
    asyncio.run(_refresh_traits(shop_database, sample_profiles=300))  # 1/8 of the shoppers
    try:
        sampled, exact = [
            [
                admin.request(
                    "POST", "/api/v1/audiences/estimate", json={"rule": rule, "exact": forced}
                ).json()
                for rule in rules
            ]
            for forced in (False, True)
        ]
    finally:
        asyncio.run(_refresh_traits(shop_database, sample_profiles=0))  # as the others expect

    for found, counted in zip(sampled, exact, strict=True):
        assert counted["exact"] is True
        assert counted["low"] == counted["size"] == counted["high"]
        assert 0 < counted["size"] < PROFILES
        assert found["exact"] is False
        n = found["sampled_profiles"]
        # Within four standard errors of the exact size (the 95% interval misses one in 20).
        p = counted["size"] / PROFILES
        assert abs(found["size"] - counted["size"]) <= 4 * (p * (1 - p) / n) ** 0.5 * PROFILES + 1
        assert found["low"] <= found["size"] <= found["high"]
    whole, half = (found["sampled_profiles"] for found in sampled)
    assert 300 <= whole < 600
    # The rule with a share was counted on the first half of the sample's slots.
    assert 0.35 * whole < half < 0.65 * whole
    assert sampled[0]["high"] - sampled[0]["low"] < PROFILES / 4
    # The sample is gone again: estimates are exact for the other tests.
    again = admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rules[0]}).json()
    assert again == exact[0]


def test_publish_shows_brands_rounded_numbers_only(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    audience = refresh(admin, create(admin, rule=BIG, cpm="12.50").id)
    published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish").json()
    assert published["status"] == "published"
    # Publishing it again changes nothing, and keeps the revision (every client's ETag).
    again = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
    assert again.json() == published
    assert again.headers["ETag"] == f'"{published["revision"]}"'

    entry = brand.request("GET", f"/api/v1/catalog/audiences/{audience.id}").json()
    assert set(entry) == CATALOG_KEYS
    assert entry["size"] % 100 == 0
    assert audience.current is not None
    assert audience.current.consented_size is not None
    # Brands are shown only the members who consented to some channel.
    assert audience.current.consented_size < audience.current.size
    assert abs(entry["size"] - audience.current.consented_size) <= 50
    assert entry["price"] == {"cpm": "12.50", "currency": "SEK"}  # the retailer's
    assert entry["kind"] == "rule"
    assert all(c["reach"] % 100 == 0 and c["reach"] >= 1000 for c in entry["channels"])
    assert "rule" not in entry
    # A brand cannot reach the retailer's exact view or the members.
    with pytest.raises(EndcapAPIError) as refused:
        brand.request("GET", f"/api/v1/audiences/{audience.id}")
    assert refused.value.status == 403


def _size(admin: EndcapClient, rule: dict[str, Any]) -> int:
    return int(
        admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule}).json()["size"]
    )


def test_the_classic_attack_a_and_a_minus_one_shopper_is_refused(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    buyers = {"trait": "baskets_52w", "op": ">=", "value": 1}
    a = refresh(admin, create_rule(admin, buyers).id)
    admin.request("POST", f"/api/v1/audiences/{a.id}/publish")
    assert a.current is not None

    # A minus exactly one shopper: everyone but the holder of a postal code nobody else has.
    minus_one = None
    for code in unique_postal_codes(retailer["folder"])[:50]:
        rule = {"and": [buyers, {"not": {"attribute": "postal_code", "op": "=", "value": code}}]}
        if _size(admin, rule) == a.current.size - 1:
            minus_one = rule
            break
    assert minus_one is not None, "no postal code singles out one buyer"
    b = refresh(admin, create_rule(admin, minus_one).id)
    assert b.current is not None
    assert b.current.size == a.current.size - 1

    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", f"/api/v1/audiences/{b.id}/publish")

    assert refused.value.status == 409
    assert refused.value.type == "urn:endcap:problem:audience-too-similar"
    # The refusal names the policy (k), never how many shoppers set the two apart.
    assert "differ by 1 " not in refused.value.detail
    assert str(a.current.size) not in str(refused.value.problem)
    catalog = [e.model_dump(mode="json") for e in brand.audience_catalog()]
    assert str(b.id) not in {e["id"] for e in catalog}
    assert str(a.id) in {e["id"] for e in catalog}

    # Leaving out a whole value tier (hundreds of shoppers) is a different audience: allowed.
    without_top = refresh(
        admin, create_rule(admin, {"and": [buyers, {"not": {"value_tier": ["top"]}}]}).id
    )
    published = admin.request("POST", f"/api/v1/audiences/{without_top.id}/publish").json()
    assert published["status"] == "published"
    overlap = brand.request(
        "GET", f"/api/v1/catalog/audiences/{a.id}/overlap/{without_top.id}"
    ).json()
    assert overlap["overlap"] is not None
    assert overlap["overlap"] % 100 == 0


def test_bad_rules_are_422_with_a_pointer(admin: EndcapClient, retailer: dict[str, Any]) -> None:
    cases = [
        ({"and": []}, "/rule/and"),
        ({"trait": "spend_52weeks", "op": ">", "value": 1}, "/rule/trait"),
        (
            {"bought": {"level": "category", "name": "Coffee"}, "within_weeks": 7},
            "/rule/within_weeks",
        ),
        ({"bought": {"level": "department", "name": "Pharmacy"}, "within_weeks": 13}, "/rule"),
    ]
    for rule, pointer in cases:
        with pytest.raises(EndcapAPIError) as bad:
            admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule})
        assert bad.value.status == 422, rule
        fields = [e["field"] for e in bad.value.problem["errors"]]
        assert any(f.startswith(pointer) for f in fields), (rule, fields)


def test_update_needs_the_current_etag_and_deleted_audiences_cannot_refresh(
    admin: EndcapClient, server: ServerProcess, admin_key: str, retailer: dict[str, Any]
) -> None:
    audience = create_rule(admin, BIG)
    url = f"{server.base_url}/api/v1/audiences/{audience.id}"
    auth = {"Authorization": f"Bearer {admin_key}"}
    first = httpx.patch(url, json={"description": "v2"}, headers={**auth, "If-Match": '"1"'})
    assert first.status_code == 200
    assert first.headers["etag"] == '"2"'
    stale = httpx.patch(url, json={"description": "v3"}, headers={**auth, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"2"'

    assert httpx.delete(url, headers=auth).status_code == 200
    refresh = httpx.post(f"{url}/refresh", headers=auth)
    assert refresh.status_code == 409
    assert "deleted" in refresh.json()["detail"]


@pytest.mark.parametrize(
    "price",
    [
        {"cpm": -1},
        {"cpm": "cheap"},
        {"cpm": "0.001"},
        {"cpm": 20_000},
        {"currency": "kronor"},
        {"currency": "EUR"},  # not the retailer's (SEK): no budget could pay it
    ],
)
def test_a_bad_price_is_422(
    admin: EndcapClient, retailer: dict[str, Any], price: dict[str, Any]
) -> None:
    with pytest.raises(EndcapAPIError) as refused:
        create(admin, rule=BIG, **price)
    assert refused.value.status == 422
    assert next(iter(price)) in refused.value.detail


BUYERS = {"trait": "baskets_52w", "op": ">=", "value": 1}


def _without(codes: list[str]) -> dict[str, Any]:
    """The buyers but the holders of ``codes``."""
    return {"and": [BUYERS, {"not": {"attribute": "postal_code", "op": "in", "value": codes}}]}


def _buyer_codes(
    admin: EndcapClient,
    retailer: dict[str, Any],
    skip: int,
    n: int,
    *,
    granted: tuple[str, ...] = SHOWN_PURPOSES,
    withheld: tuple[str, ...] = (),
) -> list[str]:
    """``n`` postal codes each held by exactly one customer, a buyer: each singles one out.
    By default each holds every purpose a channel's reach counts, so that audiences apart
    by these shoppers are as far apart in every channel's reach (release_check.py)."""
    found = []
    codes = unique_postal_codes(retailer["folder"], granted=granted, withheld=withheld)
    for code in codes[skip:]:
        # One more buyer each: a code whose holder was merged with another code's is no use.
        held = {"and": [BUYERS, {"attribute": "postal_code", "op": "in", "value": [*found, code]}]}
        if _size(admin, held) == len(found) + 1:
            found.append(code)
            if len(found) == n:
                return found
    raise AssertionError(f"fewer than {n} postal codes single out a buyer")


def _publish(admin: EndcapClient, rule: dict[str, Any]) -> AudiencePublic:
    audience = refresh(admin, create_rule(admin, rule).id)
    published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish").json()
    assert (published["status"], published["in_catalog"]) == ("published", True)
    return AudiencePublic.model_validate(published)


def test_a_published_audience_cannot_be_refreshed_into_a_minus_one(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    codes = _buyer_codes(admin, retailer, skip=0, n=61)
    buyers = _size(admin, BUYERS)
    _publish(admin, BUYERS)  # A
    b = _publish(admin, _without(codes[1:]))  # 60 apart: far enough
    assert b.current is not None
    assert b.current.size == buyers - 60
    entry_before = brand.request("GET", f"/api/v1/catalog/audiences/{b.id}").json()

    # Its rule changed to "everyone but one shopper", then refreshed: refused, as a
    # publication of that rule would be, and brands keep seeing the version they saw.
    etag = f'"{b.revision}"'
    changed = admin.request(
        "PATCH", f"/api/v1/audiences/{b.id}", json={"rule": _without(codes[:1])},
        headers={"If-Match": etag},
    )  # fmt: skip
    assert changed.status_code == 200
    job = admin.request("POST", f"/api/v1/audiences/{b.id}/refresh").json()
    done = admin.wait(job["id"], timeout=300)

    assert done.status == "failed"
    assert done.error is not None
    # A (or another published audience of all buyers, identical to it) is named.
    assert "is too similar to audience" in done.error
    assert "the catalog keeps version 1" in done.error
    after = AudiencePublic.model_validate(admin.request("GET", f"/api/v1/audiences/{b.id}").json())
    assert after.current is not None
    assert (after.current.version, after.current.size) == (1, buyers - 60)
    assert brand.request("GET", f"/api/v1/catalog/audiences/{b.id}").json() == entry_before


def test_an_overlap_showing_a_few_shoppers_on_one_side_is_withheld(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    codes = _buyer_codes(admin, retailer, skip=61, n=181)
    others, few, many, more = codes[:60], codes[60:61], codes[61:121], codes[121:]
    # A leaves out one buyer that B has; B leaves out 60 that A has: 61 apart, both
    # publishable, but their overlap is A's size minus that one buyer.
    a = _publish(admin, _without(others + many))
    b = _publish(admin, _without(others + few))
    # C is inside B, with 120 of B's buyers outside it: their overlap can be shown.
    c = _publish(admin, _without(others + few + many + more))

    withheld = brand.request("GET", f"/api/v1/catalog/audiences/{a.id}/overlap/{b.id}").json()
    shown = brand.audience_overlap(b.id, c.id)  # the typed client's way to the same

    assert withheld == {"overlap": None, "label": "withheld"}
    assert brand.audience_overlap(a.id, b.id).overlap is None
    assert c.current is not None
    assert c.current.consented_size is not None
    # Among the members who consented to some channel, rounded half up.
    assert shown.overlap == (c.current.consented_size + 50) // 100 * 100
    assert shown.overlap == brand.catalog_audience(c.id).size


@pytest.mark.postgres
async def test_two_publications_at_once_cannot_both_pass_the_difference_check(
    admin: EndcapClient, retailer: dict[str, Any], shop_database: str
) -> None:
    codes = _buyer_codes(admin, retailer, skip=242, n=61)
    base = codes[1:]  # leave 60 out of both: apart from every audience published so far
    first = refresh(admin, create_rule(admin, _without(base)).id)
    second = refresh(admin, create_rule(admin, _without(base + codes[:1])).id)  # minus one
    engine = create_engine(DatabaseSettings(url=shop_database))
    sessions = create_session_factory(engine)
    gate = PrivacyGateSettings()
    try:
        async with sessions() as publishing, sessions() as racing:
            await AudienceService(publishing, gate).publish(first.id)  # not committed yet
            race = asyncio.create_task(AudienceService(racing, gate).publish(second.id))
            await asyncio.sleep(0.5)
            assert not race.done()  # it waits for the first publication's commit ...
            await publishing.commit()
            with pytest.raises(TooSimilarAudienceError):  # ... and then sees it
                await asyncio.wait_for(race, 10)
    finally:
        await engine.dispose()


def test_a_minus_one_stays_refused_after_the_audience_it_shadows_is_deleted(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    """Brands keep what they saw of A when A is deleted: "A minus one" is still refused."""
    codes = _buyer_codes(admin, retailer, skip=303, n=61)
    a = _publish(admin, _without(codes[1:]))
    minus_one = refresh(admin, create_rule(admin, _without(codes)).id)
    deleted = admin.request("DELETE", f"/api/v1/audiences/{a.id}")
    assert deleted.json()["status"] == "deleted"

    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", f"/api/v1/audiences/{minus_one.id}/publish")

    assert refused.value.status == 409
    assert refused.value.type == "urn:endcap:problem:audience-too-similar"
    assert str(a.id) in refused.value.detail
    assert minus_one.id not in {e.id for e in brand.audience_catalog()}


def test_a_minus_one_stays_refused_after_the_shadowing_audience_changes(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    """B ("C minus one") was published first; B's rule then changes far from C. Brands saw
    B's first version, so C (B plus one shopper) is still refused."""
    codes = _buyer_codes(admin, retailer, skip=364, n=122)
    b = _publish(admin, _without(codes[:61]))
    c = refresh(admin, create_rule(admin, _without(codes[:60])).id)
    changed = admin.request(
        "PATCH", f"/api/v1/audiences/{b.id}", json={"rule": _without(codes[:60] + codes[61:])},
        headers={"If-Match": f'"{b.revision}"'},
    )  # fmt: skip
    assert changed.status_code == 200
    moved = admin.wait(admin.request("POST", f"/api/v1/audiences/{b.id}/refresh").json()["id"])
    assert moved.status == "succeeded"  # its own earlier version is not compared

    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", f"/api/v1/audiences/{c.id}/publish")

    assert refused.value.status == 409
    assert str(b.id) in refused.value.detail
    assert c.id not in {e.id for e in brand.audience_catalog()}


def test_a_deleted_audience_reads_as_deleted_and_leaves_its_name_free(
    admin: EndcapClient,
) -> None:
    first = create_rule(admin, BIG)
    admin.request("DELETE", f"/api/v1/audiences/{first.id}")

    read = admin.audience(first.id)  # campaigns may have pinned it: it can still be read
    again = create_rule(admin, BIG, name=first.name)
    listed = admin.request("GET", "/api/v1/audiences", params={"limit": 500}).json()["items"]
    deleted = admin.request(
        "GET", "/api/v1/audiences", params={"status": "deleted", "limit": 500}
    ).json()["items"]
    with pytest.raises(EndcapAPIError) as taken:
        create_rule(admin, BIG, name=first.name)

    assert (read.id, read.status, read.in_catalog) == (first.id, "deleted", False)
    assert again.in_catalog is False  # a draft
    assert (again.name, again.status) == (first.name, "draft")
    assert again.id != first.id
    assert str(first.id) not in {a["id"] for a in listed}
    assert str(again.id) in {a["id"] for a in listed}
    assert str(first.id) in {a["id"] for a in deleted}
    assert {a["status"] for a in deleted} == {"deleted"}
    assert taken.value.status == 409  # the live one holds the name


def test_audiences_far_apart_but_one_apart_in_email_reach_are_refused(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    """B is A without 61 buyers, but only a few of them have e-mail consent: the catalog's
    rounded e-mail reach of the pair would single those few out."""
    x = _buyer_codes(admin, retailer, skip=0, n=1, granted=("email",))
    others = _buyer_codes(
        admin,
        retailer,
        skip=0,
        n=60,
        granted=("targeting_offsite", "targeting_onsite"),
        withheld=("email",),
    )
    a = _publish(admin, BUYERS)  # identical to any other test's BUYERS: allowed
    b = refresh(admin, create_rule(admin, _without(x + others)).id)
    assert a.current is not None
    assert b.current is not None
    k = PrivacyGateSettings().k_threshold
    assert a.current.size - b.current.size == 61 >= k  # far enough as whole member sets
    # A few of the 60 hold e-mail consent after all (a key chain joined their record to
    # one that granted it), but the e-mail reaches stay well under k apart.
    assert 0 < a.current.reach["email"] - b.current.reach["email"] < k // 5
    assert a.current.reach["onsite_display"] - b.current.reach["onsite_display"] >= k

    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", f"/api/v1/audiences/{b.id}/publish")

    assert refused.value.status == 409
    assert refused.value.type == "urn:endcap:problem:audience-too-similar"
    assert "its members with email consent" in refused.value.detail
    assert b.id not in {e.id for e in brand.audience_catalog()}
    assert admin.audience(b.id).status == "draft"


def test_a_published_audience_cannot_be_edited_and_refreshed_into_itself_minus_one(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    """A rule edit is not drift: the refreshed version is compared with the audience's own
    released versions, and "A minus one shopper" under A's own name is refused."""
    not_platinum = {"not": {"attribute": "loyalty_tier", "op": "in", "value": ["platinum"]}}
    rule = {"and": [BUYERS, not_platinum]}
    x = _buyer_codes(admin, retailer, skip=0, n=1)
    assert _size(admin, {"and": [rule, {"attribute": "postal_code", "op": "=", "value": x[0]}]})
    a = _publish(admin, rule)
    entry_before = brand.request("GET", f"/api/v1/catalog/audiences/{a.id}").json()
    steady = admin.wait(admin.request("POST", f"/api/v1/audiences/{a.id}/refresh").json()["id"])
    assert steady.status == "succeeded"  # the same rule again: drift, not compared
    a = admin.audience(a.id)

    without_x = {"not": {"attribute": "postal_code", "op": "in", "value": x}}
    changed = admin.request(
        "PATCH", f"/api/v1/audiences/{a.id}", json={"rule": {"and": [rule, without_x]}},
        headers={"If-Match": f'"{a.revision}"'},
    )  # fmt: skip
    assert changed.status_code == 200
    done = admin.wait(admin.request("POST", f"/api/v1/audiences/{a.id}/refresh").json()["id"])

    assert done.status == "failed"
    assert done.error is not None
    assert f"is too similar to audience {a.id}" in done.error
    assert "the catalog keeps version 2" in done.error
    after = admin.audience(a.id)
    assert after.current is not None
    assert after.current.version == 2
    assert brand.request("GET", f"/api/v1/catalog/audiences/{a.id}").json() == entry_before
