"""A brand tries to learn about one shopper through the marketplace, and cannot.

The attack: the audience everyone-minus-one-shopper next to the published
everyone audience. The retailer cannot publish it (difference check), so the
brand can neither forecast nor book it; and what the brand can see of a booking
rests on rounded reach only, never on exact sizes or the holdout split.
"""

from __future__ import annotations

import pytest

from endcap.client import EndcapAPIError
from endcap.privacy.sizes import round_count
from tests.audiences.http import create_rule, refresh
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import EVERYONE, MIN_AUDIENCE, Market
from tests.support.retailer import unique_postal_codes


def test_everyone_minus_one_cannot_be_forecast_or_booked(market: Market) -> None:
    with market.client(market.admin_key) as admin:
        everyone = admin.request("GET", f"/api/v1/audiences/{market.audience_id}").json()
        size = everyone["current"]["size"]
        minus_one = None
        for code in unique_postal_codes(market.files)[:50]:
            rule = {
                "and": [EVERYONE, {"not": {"attribute": "postal_code", "op": "=", "value": code}}]
            }
            if (
                admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule}).json()[
                    "size"
                ]
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
