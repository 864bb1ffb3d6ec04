"""The in-memory quote cache's own rules: what it keeps, when it forgets, when it serves."""

from __future__ import annotations

import uuid
from decimal import Decimal

from endcap.audiences.models import AudienceKind
from endcap.audiences.schemas import CatalogEntry, ChannelReach
from endcap.marketplace.quote_cache import QuoteCache
from endcap.marketplace.repository import ChannelRate
from endcap.marketplace.targeting import Offer
from endcap.privacy.channels import Channel

EMAIL = ChannelRate("email", Decimal("25.00"), "SEK", 1_000_000, 3)
ONSITE = ChannelRate("onsite_display", Decimal("40.00"), "SEK", 1_000_000, 3)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def offer() -> Offer:
    entry = CatalogEntry(
        id=uuid.uuid4(),
        name="Snackers",
        description="",
        kind=AudienceKind.RULE,
        price=None,
        size=5000,
        size_band="1k-10k",
        channels=[ChannelReach(channel=Channel.EMAIL, reach=4000)],
        categories=[],
    )
    return Offer(entry, 3)


def live_cache(clock: Clock) -> QuoteCache:
    cache = QuoteCache(max_audiences=2, fresh_for=3.0, clock=clock)
    cache.confirm(clock.now)
    return cache


def test_rates_are_served_only_when_every_channel_asked_for_is_kept() -> None:
    cache = live_cache(Clock())
    cache.remember_rates(cache.stamp(), {"email": EMAIL})
    assert cache.rates(["email"]) == {"email": EMAIL}
    assert cache.rates(["email", "onsite_display"]) is None  # the database is asked
    cache.remember_rates(cache.stamp(), {"onsite_display": ONSITE})
    assert cache.rates(["onsite_display", "email"]) == {"onsite_display": ONSITE, "email": EMAIL}


def test_a_change_during_a_read_keeps_its_answer_out_and_a_change_forgets_all() -> None:
    cache = live_cache(Clock())
    kept, late = offer(), offer()
    cache.remember_offer(cache.stamp(), kept)
    cache.remember_rates(cache.stamp(), {"email": EMAIL})
    stamp = cache.stamp()
    cache.changed()  # notified while the read ran: its answer may predate the change
    cache.remember_offer(stamp, late)
    assert cache.offer(late.audience_id) is None
    assert cache.offer(kept.audience_id) is None
    assert cache.rates(["email"]) is None


def test_nothing_is_kept_or_served_before_the_first_heartbeat_or_once_stale() -> None:
    clock = Clock()
    cache = QuoteCache(max_audiences=2, fresh_for=3.0, clock=clock)
    first = offer()
    cache.remember_offer(cache.stamp(), first)
    assert cache.offer(first.audience_id) is None
    cache.confirm(clock.now)
    cache.remember_offer(cache.stamp(), first)
    assert cache.offer(first.audience_id) == first
    clock.now += 3.5  # no heartbeat answered for longer than fresh_for
    assert cache.offer(first.audience_id) is None
    assert cache.stamp() is None


def test_past_the_cap_it_starts_over() -> None:
    cache = live_cache(Clock())
    offers = [offer() for _ in range(3)]
    for each in offers:
        cache.remember_offer(cache.stamp(), each)
    assert [cache.offer(o.audience_id) is not None for o in offers] == [False, False, True]
