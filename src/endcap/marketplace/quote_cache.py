"""The bookable audiences and channel rates that drafts and forecasts quote from, kept in
memory so that a quote needs no read of either.

Safe only while every change to an audience, its versions or a channel's settings reaches
it: the cache serves nothing until marketplace/quote_changes.py listens for PostgreSQL's
notifications of those changes, empties itself on each, and goes dark as soon as they
may have stopped (db/notified_cache.py). A booking never quotes from it: it reads both
in its own transaction, so the version it pins, the price it charges and the capacity
a new week gets are those committed then. Only what was found bookable is kept: an
audience that is not asks the database every time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from endcap.db.notified_cache import Clock, NotifiedCache
from endcap.marketplace.repository import ChannelRate

if TYPE_CHECKING:
    from endcap.marketplace.targeting import Offer


class QuoteCache(NotifiedCache):
    def __init__(
        self, *, max_audiences: int, fresh_for: float, clock: Clock = time.monotonic
    ) -> None:
        super().__init__(fresh_for=fresh_for, clock=clock)
        self._max_audiences = max_audiences
        self._offers: dict[uuid.UUID, Offer] = {}
        self._rates: dict[str, ChannelRate] = {}

    def offer(self, audience_id: uuid.UUID) -> Offer | None:
        """The audience as the catalog offered it, if remembered and the cache is fresh."""
        return self._offers.get(audience_id) if self._offers and self.serving else None

    def remember_offer(self, stamp: int | None, offer: Offer) -> None:
        """Keep an offer read after ``stamp``, unless anything changed since."""
        if not self.unchanged_since(stamp):
            return
        if len(self._offers) >= self._max_audiences:
            self._offers.clear()  # rare (more bookable audiences than the cap): start over
        self._offers[offer.audience_id] = offer

    def rates(self, channels: Iterable[str]) -> dict[str, ChannelRate] | None:
        """The rates of all of ``channels`` if each is remembered and the cache is fresh."""
        if not self._rates or not self.serving:
            return None
        found = {c: self._rates.get(c) for c in channels}
        if any(rate is None for rate in found.values()):
            return None
        return {c: rate for c, rate in found.items() if rate is not None}

    def remember_rates(self, stamp: int | None, rates: Mapping[str, ChannelRate]) -> None:
        """Keep rates read after ``stamp``, unless anything changed since."""
        if self.unchanged_since(stamp):
            self._rates.update(rates)

    def forget(self) -> None:
        self._offers.clear()
        self._rates.clear()
