"""The plan behind forecasts and bookings: impressions from rounded reach, per ISO week,
and a budget that is never exceeded."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from endcap.marketplace.plan import flight_days_per_week, plan
from endcap.privacy.channels import Channel

MONDAY = date(2027, 1, 4)


def test_days_are_counted_per_iso_week() -> None:
    # Thursday to the Tuesday twelve days later: 4 days, 7 days, 2 days.
    days = flight_days_per_week(MONDAY + timedelta(days=3), MONDAY + timedelta(days=15))
    assert days == {MONDAY: 4, MONDAY + timedelta(days=7): 7, MONDAY + timedelta(days=14): 2}


def test_impressions_and_cost_by_hand() -> None:
    result = plan(
        {Channel.EMAIL: 12_300},
        {Channel.EMAIL: Decimal("25.00")},
        starts_on=MONDAY,
        ends_on=MONDAY + timedelta(days=9),  # a full week and three days
        frequency_cap=2,
        holdout_share=Decimal("0.10"),
    )
    (line,) = result.lines
    assert line.treatment_reach == 11_070
    assert line.weeks == {MONDAY: 22_140, MONDAY + timedelta(days=7): 22_140 * 3 // 7}
    assert result.impressions == 22_140 + 9_488
    assert result.cost == Decimal("790.70")  # 31,628 impressions at 25.00 per thousand


@settings(max_examples=200, deadline=None)
@given(
    reach=st.integers(min_value=0, max_value=5_000_000).map(lambda n: n // 100 * 100),
    cpm=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2),
    days=st.integers(min_value=1, max_value=120),
    cap=st.integers(min_value=1, max_value=7),
    budget=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2),
)
def test_the_budget_is_never_exceeded(
    reach: int, cpm: Decimal, days: int, cap: int, budget: Decimal
) -> None:
    kwargs = {
        "starts_on": MONDAY,
        "ends_on": MONDAY + timedelta(days=days - 1),
        "frequency_cap": cap,
        "holdout_share": Decimal("0.1"),
    }
    full = plan({Channel.ONSITE_DISPLAY: reach}, {Channel.ONSITE_DISPLAY: cpm}, **kwargs)
    capped = plan(
        {Channel.ONSITE_DISPLAY: reach}, {Channel.ONSITE_DISPLAY: cpm}, budget=budget, **kwargs
    )
    assert capped.cost <= max(budget, Decimal(0))
    assert capped.impressions <= full.impressions
    assert capped.budget_limited == (full.cost > budget)
    if not capped.budget_limited:
        assert capped.impressions == full.impressions
