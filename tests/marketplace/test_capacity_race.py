"""A brand's booking fits only what it is shown left, to the impression, and two bookings
of one brand on one week at once are judged as if one came after the other. The brand's
view of a week rounds what the other brands leave and takes its own holds off exactly
(privacy/sizes.brand_left); judged on holds read before the week's lock, a booking raced
by the brand's own counted that one as a rival's, and whether it fit then told the exact
remainder (booking 51, then 52, beside a large booking found it).

Run on the package's database through the capacity service itself, so that the second
booking can be made to wait on the first's lock (PostgreSQL: SQLite has one writer)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from endcap.config import DatabaseSettings
from endcap.db.engine import create_engine, create_session_factory
from endcap.marketplace.channels import CapacityExceededError, ChannelService
from endcap.marketplace.plan import ChannelPlan, Plan
from endcap.marketplace.repository import ChannelRate
from endcap.privacy.channels import Channel
from endcap.privacy.sizes import coarse_left
from tests.marketplace.booking import campaign_body, next_monday
from tests.marketplace.conftest import Brand, Market

pytestmark = pytest.mark.postgres

CAPACITY = 10_000  # a step of 100
RIVAL = 8_949  # leaves 1,051: 1,000 as brands are shown it
RATES = {Channel.COUPON: ChannelRate("coupon", Decimal("5.00"), "SEK", CAPACITY, 3)}


def _draft(market: Market, brand: Brand) -> uuid.UUID:
    with market.client(brand.key) as client:
        return client.create_campaign(**campaign_body(market, brand)).id


async def test_a_booking_raced_by_the_same_brand_fits_as_if_they_ran_in_turn(
    market: Market, market_database: str
) -> None:
    monday = next_monday(20)  # clear of every other booking on the channel
    shown = coarse_left(CAPACITY - RIVAL, CAPACITY)
    assert shown == 1_000

    def plan(n: int) -> Plan:
        return Plan([ChannelPlan(Channel.COUPON, 0, 0, Decimal("5.00"), {monday: n})], False)

    engine = create_engine(DatabaseSettings(url=market_database))
    sessions = create_session_factory(engine)
    rival = _draft(market, market.b)
    first, second = _draft(market, market.a), _draft(market, market.a)

    async def book(campaign: uuid.UUID, brand: Brand, n: int) -> None:
        async with sessions() as session:
            await ChannelService(session).reserve(
                campaign, brand.partner_id, plan(n), RATES, exact=False
            )
            await session.commit()

    try:
        await book(rival, market.b, RIVAL)
        async with sessions() as holding:
            await ChannelService(holding).reserve(
                first, market.a.partner_id, plan(52), RATES, exact=False
            )
            raced = asyncio.create_task(book(second, market.a, shown - 52))
            await asyncio.sleep(0.5)
            assert not raced.done()  # waiting on the week the first holds
            await holding.commit()
        await raced  # 52 and 948 are the 1,000 the brand is shown: it fits
        async with sessions() as session:
            weeks = await ChannelService(session).channels.weeks("coupon", monday, monday)
        assert [(w.capacity, w.booked) for w in weeks] == [(CAPACITY, RIVAL + shown)]
    finally:
        await engine.dispose()


async def test_past_what_the_brand_is_shown_by_one_impression_is_refused(
    market: Market, market_database: str
) -> None:
    """Between what the brand is shown (1,000) and the exact remainder (1,051): refused,
    however the database divides (PostgreSQL's sum of bigints is a decimal)."""
    monday = next_monday(21)
    engine = create_engine(DatabaseSettings(url=market_database))
    sessions = create_session_factory(engine)
    rival = _draft(market, market.b)
    mine = [_draft(market, market.a) for _ in range(3)]

    async def book(campaign: uuid.UUID, brand: Brand, n: int) -> None:
        plan = Plan([ChannelPlan(Channel.COUPON, 0, 0, Decimal("5.00"), {monday: n})], False)
        async with sessions() as session:
            await ChannelService(session).reserve(
                campaign, brand.partner_id, plan, RATES, exact=False
            )
            await session.commit()

    try:
        await book(rival, market.b, RIVAL)
        await book(mine[0], market.a, 400)  # the brand's own: 600 left as it is shown
        for over in (601, 650):
            with pytest.raises(CapacityExceededError) as refused:
                await book(mine[1], market.a, over)
            assert "has 600 impressions left or a little more" in str(refused.value)
        await book(mine[2], market.a, 600)
    finally:
        await engine.dispose()
