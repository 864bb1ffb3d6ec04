"""A brand cannot find another brand's booking by booking and cancelling: its bookings fit
only within the week's remainder as a brand is shown it (rounded down to a hundredth of
the capacity), so whether one fits tells it nothing more than the forecast does."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from endcap.privacy.sizes import capacity_step, coarse_left
from tests.marketplace.booking import campaign_body, next_monday
from tests.marketplace.conftest import Market

CHANNEL = "coupon"


def _budget_for(brand: EndcapClient, flight: dict[str, Any], low: int, high: int) -> Decimal:
    """A budget (whole cents) whose forecast buys between ``low`` and ``high`` impressions."""
    cents_low, cents_high = 1, 10**7
    while cents_low <= cents_high:
        cents = (cents_low + cents_high) // 2
        budget = Decimal(cents) / 100
        bought = brand.forecast(**flight, budget=budget, currency="SEK").impressions
        if low <= bought <= high:
            return budget
        if bought < low:
            cents_low = cents + 1
        else:
            cents_high = cents - 1
    raise AssertionError(f"no budget buys {low} to {high} impressions")


def _week_after_rival(
    market: Market, weeks_ahead: int
) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """A week ``weeks_ahead`` (clear of every other booking on the channel) whose capacity
    is the audience's whole week, so a brand can ask for more than is left, after brand B
    booked an eighth to a tenth of it: the week, a flight on it, the capacity and B's
    booking."""
    monday = next_monday(weeks_ahead)
    week = {"starts_on": monday, "ends_on": monday + timedelta(days=6), "channels": [CHANNEL]}
    flight = {**week, "audience_id": market.audience_id, "frequency_cap": 1}
    with market.client(market.admin_key) as admin:
        admin.configure_channel(
            CHANNEL, cpm="5.00", currency="SEK", weekly_capacity=10**9, max_per_profile_week=3
        )
    with market.client(market.a.key) as brand:
        capacity = brand.forecast(**flight).impressions
    with market.client(market.admin_key) as admin:
        admin.configure_channel(
            CHANNEL, cpm="5.00", currency="SEK", weekly_capacity=capacity, max_per_profile_week=3
        )
    with market.client(market.b.key) as rival:
        budget = _budget_for(rival, flight, capacity // 10, capacity // 8)
        # At least 2 past a whole number of steps left: a booking can then fall strictly
        # between what brands are shown and the exact remainder.
        step = capacity_step(capacity)
        while (capacity - rival.forecast(**flight, budget=budget).impressions) % step < 2:
            budget += Decimal("0.01")
        draft = rival.create_campaign(
            **campaign_body(market, market.b, frequency_cap=1, budget=budget, **week)
        )
        theirs = rival.book(draft.id).booked_impressions
    assert theirs is not None
    return week, flight, capacity, theirs


def test_a_brand_booking_fits_only_within_the_coarse_remainder(market: Market) -> None:
    week, flight, capacity, theirs = _week_after_rival(market, 16)
    step = capacity // 100
    assert step > 1
    left = capacity - theirs
    shown = coarse_left(left, capacity)
    assert 0 < shown < left - 1, "the rival's booking left a whole number of steps: pick again"

    with market.client(market.a.key) as brand:
        assert brand.forecast(**flight).lines[0].capacity_left == shown
        # More than the brand is shown as left, but within the exact remainder: refused,
        # exactly as a booking past the remainder is.
        over = _budget_for(brand, flight, shown + 1, left - 1)  # strictly between
        refused_draft = brand.create_campaign(
            **campaign_body(market, market.a, frequency_cap=1, budget=over, **week)
        )
        with pytest.raises(EndcapAPIError) as refused:
            brand.book(refused_draft.id)
        assert refused.value.status == 409
        assert refused.value.type == "urn:endcap:problem:capacity-exceeded"
        assert f"has {shown} impressions left or a little more" in refused.value.detail
        assert brand.campaign(refused_draft.id).status == "draft"
        # Up to what it is shown fits.
        within = _budget_for(brand, flight, shown - step + 1, shown)
        fits = brand.create_campaign(
            **campaign_body(market, market.a, frequency_cap=1, budget=within, **week)
        )
        booked = brand.book(fits.id).booked_impressions
    assert booked is not None
    assert shown - step < booked <= shown
    with market.client(market.admin_key) as admin:
        (held,) = admin.capacity(CHANNEL, first=week["starts_on"], last=week["starts_on"])
    assert (held.capacity, held.booked) == (capacity, theirs + booked)


def test_a_brands_own_booking_moves_its_view_by_exactly_itself(market: Market) -> None:
    """Rounded with the brand's own bookings in, the remainder would drop a step where
    they crossed one: booking x, forecasting and cancelling, for x up to a step, would
    find the exact remainder and the rival's booking with it. The brand's view rounds
    only what the others leave, so its own booking moves it by exactly that booking."""
    week, flight, capacity, theirs = _week_after_rival(market, 18)
    step = capacity // 100
    shown = coarse_left(capacity - theirs, capacity)

    with market.client(market.a.key) as brand:
        assert brand.forecast(**flight).lines[0].capacity_left == shown
        mine = []
        for low, high in ((step + 1, 2 * step - 1), (3 * step + 1, 4 * step - 1)):
            budget = _budget_for(brand, flight, low, high)
            draft = brand.create_campaign(
                **campaign_body(market, market.a, frequency_cap=1, budget=budget, **week)
            )
            booked = brand.book(draft.id).booked_impressions
            assert booked is not None
            assert booked % step  # not a whole number of steps
            mine.append(booked)
            # The rounded figure, less exactly what the brand holds: nothing about the rest.
            assert brand.forecast(**flight).lines[0].capacity_left == shown - sum(mine)
            with market.client(market.admin_key) as admin:
                exact = admin.forecast(**flight).lines[0].capacity_left
            assert exact == capacity - theirs - sum(mine)
        brand.act(draft.id, "cancel")
        assert brand.forecast(**flight).lines[0].capacity_left == shown - mine[0]
