"""Audiences a brand cannot book, over the real server: one whose shoppers too seldom
consent to a channel, one that is not published, and published ones that a refresh
pushed below the minimum or the retailer deleted after a draft was made on them.

Each answer is a 422 problem naming what is wrong and pointing at the field, never a
500, and nothing is taken: the campaign stays a draft and the channels' capacity is as
it was. The loyalty tiers of the package's synthetic retailer (seed 31) give the sizes;
each test first checks the exact counts it relies on, as the retailer reads them.
"""

from __future__ import annotations

from typing import Any

import pytest

from endcap.audiences.schemas import AudiencePublic
from endcap.client import EndcapAPIError, EndcapClient
from tests.audiences.http import create_rule, refresh
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import MIN_AUDIENCE, Market

ONSITE, OFFSITE = "onsite_display", "offsite_social"
NOT_BOOKABLE = "it must be published and at or above the minimum size"


def tiers(*names: str) -> dict[str, Any]:
    return {"attribute": "loyalty_tier", "op": "in", "value": list(names)}


def publish(admin: EndcapClient, rule: dict[str, Any]) -> AudiencePublic:
    audience = refresh(admin, create_rule(admin, rule).id)
    published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
    assert published.status_code == 200, published.text
    return AudiencePublic.model_validate(published.json())


def narrow(admin: EndcapClient, audience: AudiencePublic, rule: dict[str, Any]) -> AudiencePublic:
    """Change a published audience's rule and refresh it: a new current version."""
    changed = admin.request(
        "PATCH",
        f"/api/v1/audiences/{audience.id}",
        json={"rule": rule},
        headers={"If-Match": f'"{audience.revision}"'},
    )
    assert changed.status_code == 200, changed.text
    return refresh(admin, audience.id)


def reach(audience: AudiencePublic, channel: str) -> int:
    assert audience.current is not None
    return audience.current.reach[channel]


def booked(market: Market, body: dict[str, Any]) -> dict[str, int]:
    """Impressions booked per channel over the flight of ``body``, as the retailer reads them."""
    with market.client(market.admin_key) as admin:
        return {
            channel: sum(
                w.booked
                for w in admin.capacity(channel, first=body["starts_on"], last=body["ends_on"])
            )
            for channel in (ONSITE, OFFSITE, "email")
        }


def forecast_of(body: dict[str, Any]) -> dict[str, Any]:
    keys = ("audience_id", "channels", "starts_on", "ends_on", "frequency_cap")
    return {k: body[k] for k in keys}


def assert_refused(error: EndcapAPIError, field: str, *named: str) -> None:
    assert error.status == 422, error.problem
    assert error.type == "urn:endcap:problem:validation-error"
    assert [e["field"] for e in error.problem["errors"]] == [field]
    for words in named:
        assert words in error.detail, error.detail


@pytest.fixture(scope="module", autouse=True)
def priced_offsite(market: Market) -> None:
    # Every channel here has a rate card, so a refusal can only be about the audience.
    with market.client(market.admin_key) as admin:
        admin.configure_channel(
            OFFSITE, cpm="55.00", currency="SEK", weekly_capacity=10**7, max_per_profile_week=3
        )


def test_a_channel_too_few_of_the_audiences_shoppers_consent_to_is_refused(
    market: Market,
) -> None:
    with market.client(market.admin_key) as admin:
        silver = publish(admin, tiers("silver"))
    # Enough shoppers consent to on-site targeting; too few to off-site matching.
    assert reach(silver, ONSITE) >= MIN_AUDIENCE > reach(silver, OFFSITE) > 0
    body = campaign_body(market, market.a, audience_id=silver.id, channels=[ONSITE, OFFSITE])
    both = campaign_body(
        market, market.a, audience_id=None, audience_ids=[market.audience_id, silver.id]
    )
    del both["audience_id"]
    before = booked(market, body)
    with market.client(market.a.key) as brand:
        drafts = len(brand.campaigns(limit=200).items)
        entry = next(e for e in brand.audience_catalog() if e.id == silver.id)
        with pytest.raises(EndcapAPIError) as forecast:
            brand.forecast(**forecast_of(body))
        with pytest.raises(EndcapAPIError) as draft:
            brand.create_campaign(**body)
        with pytest.raises(EndcapAPIError) as two:
            brand.create_campaign(**{**both, "channels": [OFFSITE]})
        onsite_only = brand.forecast(**forecast_of({**body, "channels": [ONSITE]}))
        after = len(brand.campaigns(limit=200).items)
    assert OFFSITE not in {c.channel for c in entry.channels}  # the catalog said so
    for refused in (forecast, draft):
        assert_refused(
            refused.value,
            "/channels/1",
            f"too few of this audience's shoppers consent to {OFFSITE}",
            "(open: coupon, email, instore_screen, onsite_display)",
        )
    assert_refused(
        two.value, "/channels/0", f"too few of audience {silver.id}'s shoppers consent to {OFFSITE}"
    )
    assert onsite_only.lines[0].reach >= MIN_AUDIENCE
    assert after == drafts
    assert booked(market, body) == before


def test_booking_after_the_audience_lost_a_channels_consent_takes_nothing(
    market: Market,
) -> None:
    with market.client(market.admin_key) as admin:
        audience = publish(admin, tiers("silver", "gold", "platinum"))
    assert reach(audience, OFFSITE) >= MIN_AUDIENCE
    body = campaign_body(market, market.a, audience_id=audience.id, channels=[ONSITE, OFFSITE])
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**body)
    before = booked(market, body)
    with market.client(market.admin_key) as admin:
        narrowed = narrow(admin, audience, tiers("bronze", "gold"))
    assert reach(narrowed, ONSITE) >= MIN_AUDIENCE > reach(narrowed, OFFSITE)
    with market.client(market.a.key) as brand:
        with pytest.raises(EndcapAPIError) as forecast:
            brand.forecast(**forecast_of(body))
        with pytest.raises(EndcapAPIError) as book:
            brand.book(draft.id)
        still = brand.campaign(draft.id)
    for refused in (forecast, book):
        assert_refused(
            refused.value,
            "/channels/1",
            f"too few of this audience's shoppers consent to {OFFSITE}",
        )
    assert (still.status, still.revision, still.booked_impressions) == (
        "draft",
        draft.revision,
        None,
    )
    assert [a.version for a in still.audiences] == [None]
    assert booked(market, body) == before


def test_a_refresh_below_the_minimum_after_publishing_makes_the_audience_unbookable(
    market: Market,
) -> None:
    with market.client(market.admin_key) as admin:
        audience = publish(admin, tiers("gold", "platinum"))
    body = campaign_body(market, market.a, audience_id=audience.id)
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**body)
        assert brand.forecast(**forecast_of(body)).lines[0].reach >= MIN_AUDIENCE
    before = booked(market, body)
    with market.client(market.admin_key) as admin:
        shrunk = narrow(admin, audience, tiers("platinum"))
        jobs = admin.request("GET", "/api/v1/jobs", params={"limit": 500}).json()["items"]
    told = [
        j for j in jobs if (j["result"] or {}).get("audience", {}).get("id") == str(audience.id)
    ]
    # The last refresh says what the retailer must know: published still, not for brands.
    assert f"below the minimum of {MIN_AUDIENCE} on every channel" in told[-1]["message"]
    assert "below the minimum" not in told[0]["message"]
    assert (shrunk.status, shrunk.in_catalog) == ("published", False)
    assert audience.in_catalog  # before the refresh
    assert shrunk.current is not None
    assert 0 < shrunk.current.size < MIN_AUDIENCE
    with market.client(market.a.key) as brand:
        listed = {e.id for e in brand.audience_catalog()}
        with pytest.raises(EndcapAPIError) as forecast:
            brand.forecast(**forecast_of(body))
        with pytest.raises(EndcapAPIError) as book:
            brand.book(draft.id)
        with pytest.raises(EndcapAPIError) as another:
            brand.create_campaign(**body)
        still = brand.campaign(draft.id)
        # Hidden from the catalog is hidden everywhere: its overlaps answer 404 too, as
        # for an unknown id (they gave its members' count, rounded).
        catalog = "/api/v1/catalog/audiences"
        hidden = [
            status_of(brand, f"{catalog}/{audience.id}"),
            status_of(brand, f"{catalog}/{audience.id}/overlap/{audience.id}"),
            *(status_of(brand, f"{catalog}/{other}/overlap/{audience.id}") for other in listed),
        ]
    assert listed
    assert hidden == [404] * (2 + len(listed))
    assert audience.id not in listed
    assert_refused(forecast.value, "/audience_id", f"no bookable audience with id {audience.id}")
    assert_refused(another.value, "/audience_id", NOT_BOOKABLE)
    # A stored draft names its audiences as a list: the pointer says which one.
    assert_refused(book.value, "/audience_ids/0", f"{audience.id}: {NOT_BOOKABLE}")
    assert (still.status, still.booked_impressions) == ("draft", None)
    assert booked(market, body) == before


def test_an_unpublished_or_deleted_audience_is_neither_forecast_nor_booked(
    market: Market,
) -> None:
    with market.client(market.admin_key) as admin:
        # Big enough to publish; simply never published.
        never = refresh(admin, create_rule(admin, tiers("bronze", "silver")).id)
        gone = publish(admin, tiers("bronze", "platinum"))
    assert never.current is not None
    assert never.current.size >= MIN_AUDIENCE
    body = campaign_body(market, market.a, audience_id=gone.id)
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**body)
    before = booked(market, body)
    with market.client(market.admin_key) as admin:
        deleted = admin.request("DELETE", f"/api/v1/audiences/{gone.id}")
        assert deleted.status_code == 200, deleted.text
    unpublished = {**body, "audience_id": never.id}
    with market.client(market.a.key) as brand:
        refusals = []
        for attempt in (
            lambda: brand.forecast(**forecast_of(unpublished)),
            lambda: brand.forecast(**forecast_of(body)),
            lambda: brand.book(draft.id),
        ):
            with pytest.raises(EndcapAPIError) as refused:
                attempt()
            refusals.append(refused.value)
        still = brand.campaign(draft.id)
    assert_refused(refusals[0], "/audience_id", f"no bookable audience with id {never.id}")
    assert_refused(refusals[1], "/audience_id", f"no bookable audience with id {gone.id}")
    assert_refused(refusals[2], "/audience_ids/0", f"no bookable audience with id {gone.id}")
    # Never published and deleted read alike, but for the id: a brand learns nothing more.
    assert refusals[0].detail.replace(str(never.id), "") == refusals[1].detail.replace(
        str(gone.id), ""
    )
    assert (still.status, still.booked_impressions) == ("draft", None)
    assert booked(market, body) == before


def status_of(client: EndcapClient, path: str) -> int:
    try:
        return client.request("GET", path).status_code
    except EndcapAPIError as refused:
        return refused.status
