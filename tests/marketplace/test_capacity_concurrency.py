"""Many brands booking the last of a channel's week at once: exactly as many bookings as fit
succeed, the rest get a 409, and the books add up to the impression."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from endcap.client import EndcapAPIError
from tests.marketplace.booking import campaign_body, next_monday
from tests.marketplace.conftest import Market

BOOKINGS = 24


def test_concurrent_bookings_never_oversell(market: Market) -> None:
    monday = next_monday(weeks_ahead=3)
    one_week = {"starts_on": monday, "ends_on": monday + timedelta(days=6), "channels": ["coupon"]}
    with market.client(market.admin_key) as admin, market.client(market.a.key) as brand:
        admin.configure_channel(
            "coupon", cpm="5.00", currency="SEK", weekly_capacity=10**9, max_per_profile_week=1
        )
        drafts = [
            brand.create_campaign(**campaign_body(market, market.a, frequency_cap=1, **one_week))
            for _ in range(BOOKINGS)
        ]
        need = brand.forecast(
            audience_id=market.audience_id,
            channels=["coupon"],
            starts_on=monday,
            ends_on=monday + timedelta(days=6),
        ).impressions
        fits = 7
        # Room for seven bookings and most of an eighth: the eighth must not squeeze in.
        admin.configure_channel(
            "coupon",
            cpm="5.00",
            currency="SEK",
            weekly_capacity=need * fits + need // 2,
            max_per_profile_week=1,
        )

    def book(campaign_id: object) -> int:
        with market.client(market.a.key) as client:
            try:
                client.book(campaign_id)  # type: ignore[arg-type]
            except EndcapAPIError as error:
                return error.status
            return 200

    with ThreadPoolExecutor(max_workers=BOOKINGS) as pool:
        statuses = list(pool.map(book, [d.id for d in drafts]))

    with market.client(market.admin_key) as admin:
        (week,) = admin.capacity("coupon", first=monday, last=monday)
        booked = [
            c
            for c in admin.campaigns(limit=200, status="submitted").items
            if c.id in {d.id for d in drafts}  # not other tests' coupon bookings
        ]
    assert statuses.count(200) == fits
    assert statuses.count(409) == BOOKINGS - fits
    assert week.booked == need * fits <= week.capacity
    assert sum(c.booked_impressions or 0 for c in booked) == week.booked


def test_overlapping_multi_week_bookings_neither_deadlock_nor_lose_impressions(
    market: Market,
) -> None:
    first = next_monday(weeks_ahead=6)
    shapes = [  # two channels each, flights overlapping in different weeks
        {"starts_on": first, "ends_on": first + timedelta(days=20)},
        {"starts_on": first + timedelta(days=7), "ends_on": first + timedelta(days=27)},
    ]
    window = {"first": first, "last": first + timedelta(days=27)}
    with market.client(market.admin_key) as admin, market.client(market.a.key) as brand:
        before = {
            c: {w.week_start: w.booked for w in admin.capacity(c, **window)}
            for c in ("onsite_display", "email")
        }
        drafts = [
            brand.create_campaign(
                **campaign_body(
                    market, market.a, channels=["email", "onsite_display"], **shapes[i % 2]
                )
            )
            for i in range(BOOKINGS)
        ]

    def book(campaign_id: object) -> int:
        with market.client(market.a.key) as client:
            try:
                return client.book(campaign_id).booked_impressions or 0  # type: ignore[arg-type]
            except EndcapAPIError as error:
                return -error.status

    with ThreadPoolExecutor(max_workers=BOOKINGS) as pool:
        booked = list(pool.map(book, [d.id for d in drafts]))

    with market.client(market.admin_key) as admin:
        taken = sum(
            w.booked - before[c].get(w.week_start, 0)
            for c in ("onsite_display", "email")
            for w in admin.capacity(c, **window)
        )
    assert all(n > 0 for n in booked), booked  # no deadlock, no 500, no refusal
    assert taken == sum(booked)
