"""A brand tries to learn about one shopper through the marketplace, and cannot.

The attack: the audience everyone-minus-one-shopper next to the published
everyone audience. The retailer cannot publish it (difference check), so the
brand can neither forecast nor book it; nor can the brand assemble it as the union
of two audiences that each pass the check, since a forecast of several audiences
shows only what the catalog's own numbers give; and what the brand can see of a
booking rests on rounded reach only, never on exact sizes or the holdout split.
"""

from __future__ import annotations

from typing import Any

import pytest

from endcap.audiences.schemas import AudiencePublic
from endcap.client import EndcapAPIError, EndcapClient
from endcap.privacy.sizes import round_count
from tests.audiences.http import create_rule, refresh
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import EVERYONE, MIN_AUDIENCE, Market
from tests.support.retailer import SHOWN_PURPOSES, unique_postal_codes


def test_everyone_minus_one_cannot_be_forecast_or_booked(market: Market) -> None:
    with market.client(market.admin_key) as admin:
        # Counted now: the version's size stays as released while other tests erase.
        size = admin.request(
            "POST", "/api/v1/audiences/estimate", json={"rule": EVERYONE, "exact": True}
        ).json()["size"]
        minus_one = None
        for code in unique_postal_codes(market.files)[:50]:
            rule = {
                "and": [EVERYONE, {"not": {"attribute": "postal_code", "op": "=", "value": code}}]
            }
            if (
                admin.request(
                    "POST", "/api/v1/audiences/estimate", json={"rule": rule, "exact": True}
                ).json()["size"]
                == size - 1
            ):
                minus_one = refresh(admin, create_rule(admin, rule).id)
                break
        assert minus_one is not None, "no postal code singles out one shopper"
        with pytest.raises(EndcapAPIError) as unpublishable:
            admin.request("POST", f"/api/v1/audiences/{minus_one.id}/publish")
    assert unpublishable.value.status == 409

    body = campaign_body(market, market.a, audience_id=minus_one.id)
    with market.client(market.a.key) as brand:
        with pytest.raises(EndcapAPIError) as no_forecast:
            brand.forecast(
                audience_id=minus_one.id,
                channels=["onsite_display"],
                starts_on=body["starts_on"],
                ends_on=body["ends_on"],
            )
        with pytest.raises(EndcapAPIError) as no_booking:
            brand.create_campaign(**body)
    for refused in (no_forecast, no_booking):
        assert refused.value.status == 422
        assert refused.value.problem["errors"][0]["field"] == "/audience_id"
        assert str(size - 1) not in str(refused.value.problem)


def test_a_brand_sees_only_rounded_numbers_of_its_booking(market: Market) -> None:
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        booked = brand.book(brand.create_campaign(**campaign_body(market, market.a)).id)
        admin.act(booked.id, "approve")
        raw = brand.request("GET", f"/api/v1/campaigns/{booked.id}").json()
        exact = admin.request("GET", f"/api/v1/audiences/{market.audience_id}").json()
        with pytest.raises(EndcapAPIError) as queue:
            brand.approvals()
    assert all(line["reach"] % 100 == 0 for line in raw["lines"])
    # Neither the split nor any exact count of the audience reaches the brand.
    assert not {"treatment_size", "holdout_size", "holdout_salt"} & set(raw)
    (line,) = raw["lines"]
    # The booking was priced on the catalog's rounded reach, not on the exact one.
    assert (
        line["reach"]
        == round_count(exact["current"]["reach"]["onsite_display"], minimum=MIN_AUDIENCE).value
    )
    assert queue.value.status == 403


ONSITE = "onsite_display"


def _postal(op: str, value: Any) -> dict[str, Any]:
    return {"attribute": "postal_code", "op": op, "value": value}


def _onsite(audience: AudiencePublic) -> int:
    assert audience.current is not None
    return audience.current.reach[ONSITE]


def _built(admin: EndcapClient, *rules: dict[str, Any]) -> AudiencePublic:
    return refresh(admin, create_rule(admin, {"and": [EVERYONE, *rules]}).id)


def _shown(n: int) -> int | None:
    return round_count(n, minimum=MIN_AUDIENCE).value


def test_everyone_but_one_assembled_from_two_audiences_shows_nothing(market: Market) -> None:
    """The attack: three publishable audiences, "edge" and two disjoint ones whose union is
    edge without one consenting shopper, with edge's on-site reach right at a rounding edge
    (it ends in 50). Rounding the exact union would show the pair 100 below edge: the one
    shopper. The forecast shows the sum of the two catalog reaches instead, here exactly
    edge's own, so the brand sees no difference at all."""
    # Shoppers holding every shown purpose: as far apart in each channel's reach.
    codes = unique_postal_codes(market.files, granted=SHOWN_PURPOSES)
    with market.client(market.admin_key) as admin:
        shopper = next(
            code
            for code in codes[:40]
            if admin.request(
                "POST",
                "/api/v1/audiences/estimate",
                json={"rule": {"and": [EVERYONE, _postal("=", code)]}, "exact": True},
            ).json()["size"]
            == 1
            and _onsite(_built(admin, _postal("=", code))) == 1
        )
        others = [code for code in codes if code != shopper]
        # Leave out enough other shoppers (50 or more, for the difference check) that edge's
        # exact on-site reach ends in 50: one shopper less then rounds down. Each code
        # removes at most one consenting shopper, so stepping by what is missing never
        # jumps past the edge.
        leave_out, short = 60, 1
        for _ in range(40):
            edge = _built(admin, {"not": _postal("in", others[:leave_out])})
            short = (_onsite(edge) - 50) % 100
            if not short:
                break
            leave_out += short
        assert not short, "no rounding edge found"
        kept = {"not": _postal("in", others[:leave_out])}
        without = {"not": _postal("=", shopper)}
        # Split the rest of edge into two by postal code, so that both on-site reaches end in
        # 50 or more: each then rounds up, and their rounded sum differs from the rounded
        # exact union. Adding a code adds at most one, so again step by what is missing.
        left_out = {shopper, *others[:leave_out]}
        pool = [c for c in unique_postal_codes(market.files) if c not in left_out]
        split, ends = 700, 0
        for _ in range(40):
            some = _built(admin, kept, without, _postal("in", pool[:split]))
            ends = _onsite(some) % 100
            if ends >= 50:
                break
            split += 50 - ends
        assert ends >= 50, "no split found"
        rest = _built(admin, kept, without, {"not": _postal("in", pool[:split])})
        for audience in (edge, some, rest):
            published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
            assert published.status_code == 200, published.text

    # Retailer-side: the two are disjoint and their union is edge but one consenting
    # shopper, so rounding the exact union would have given that shopper away.
    assert _onsite(some) + _onsite(rest) == _onsite(edge) - 1
    union_rounded, edge_rounded = _shown(_onsite(edge) - 1), _shown(_onsite(edge))
    assert union_rounded is not None
    assert edge_rounded is not None
    assert union_rounded == edge_rounded - 100

    body = campaign_body(market, market.a)
    flight = {"channels": [ONSITE], "starts_on": body["starts_on"], "ends_on": body["ends_on"]}
    with market.client(market.a.key) as brand:
        alone = brand.forecast(audience_ids=[edge.id], **flight)
        assembled = brand.forecast(audience_ids=[some.id, rest.id], **flight)
        catalog = {
            e.id: next(c.reach for c in e.channels if c.channel == ONSITE)
            for e in brand.audience_catalog()
        }
        overlap = brand.request(
            "GET", f"/api/v1/catalog/audiences/{some.id}/overlap/{rest.id}"
        ).json()
    # Nothing but catalog numbers: the two reaches, less an overlap the catalog shows as none.
    assert overlap["overlap"] is None
    assert assembled.lines[0].reach == catalog[some.id] + catalog[rest.id]
    # The brand sees the pair reach exactly what edge reaches: the shopper does not show.
    assert alone.lines[0].reach == catalog[edge.id]
    assert assembled.lines[0].reach == alone.lines[0].reach
    assert assembled.lines[0].reach != union_rounded


def test_a_forecast_counts_a_withheld_overlap_as_nested(market: Market) -> None:
    """A holds one consenting shopper that B does not, and B holds 60 or more that A does
    not: far enough apart to publish both, but their overlap is A less that shopper, so the
    catalog withholds it. With A's on-site reach at a rounding edge (it ends in 50), that
    overlap rounded is 100 below A's catalog reach, and a forecast built on it would show
    the pair 100 above B: the shopper. The forecast counts the pair as nested instead."""
    # From the end of the list, away from the codes the other tests here leave out.
    # Shoppers holding every shown purpose: as far apart in each channel's reach.
    codes = unique_postal_codes(market.files, granted=SHOWN_PURPOSES)[::-1]
    with market.client(market.admin_key) as admin:
        shopper = next(
            code
            for code in codes[:40]
            if _onsite(_built(admin, _postal("=", code))) == 1
        )  # fmt: skip
        rest = [code for code in codes if code != shopper]
        others, pool = rest[:60], rest[60:]
        b = _built(admin, {"not": _postal("in", [*others, shopper])})
        # Leave more of the pool out of A until its on-site reach ends in 50; each code
        # removes at most one consenting shopper, so stepping by what is missing never
        # jumps past the edge.
        many, short = 60, 1
        for _ in range(40):
            a = _built(admin, {"not": _postal("in", others + pool[:many])})
            short = (_onsite(a) - 50) % 100
            if not short:
                break
            many += short
        assert not short, "no rounding edge found"
        for audience in (a, b):
            published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
            assert published.status_code == 200, published.text

    body = campaign_body(market, market.a)
    flight = {"channels": [ONSITE], "starts_on": body["starts_on"], "ends_on": body["ends_on"]}
    with market.client(market.a.key) as brand:
        both = brand.forecast(audience_ids=[a.id, b.id], **flight)
        catalog = {
            e.id: next(c.reach for c in e.channels if c.channel == ONSITE)
            for e in brand.audience_catalog()
        }
        overlap = brand.request("GET", f"/api/v1/catalog/audiences/{a.id}/overlap/{b.id}").json()
    assert overlap == {"overlap": None, "label": "withheld"}
    # The on-site overlap is A's reach less the shopper; rounded, it would have given the
    # shopper away as the forecast's 100 over B.
    rounded = _shown(_onsite(a) - 1)
    assert rounded is not None
    assert rounded == catalog[a.id] - 100
    assert catalog[a.id] + catalog[b.id] - rounded == catalog[b.id] + 100
    assert both.lines[0].reach == max(catalog[a.id], catalog[b.id]) == catalog[b.id]
