"""Quotes: what audiences, channels, flight and frequency cap would reach, deliver and cost.

The forecast a brand asks for and the booking it then makes run through the
same :meth:`Quoting.quote`, so the booking checks exactly what was forecast:
each audience must be bookable (published, above the minimum), each channel must
have a rate card and enough consenting members in every audience, and the dates
and cap must be sane. Every refusal is a 422 pointing at the field to fix. Reach
is the audiences' union as :mod:`endcap.marketplace.reach` shows it; the price
is the channel's CPM plus :func:`~endcap.marketplace.targeting.premium_of`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import MarketplaceSettings
from endcap.db.types import utcnow
from endcap.marketplace.channels import ChannelService
from endcap.marketplace.plan import Plan, plan
from endcap.marketplace.quote_cache import QuoteCache
from endcap.marketplace.repository import ChannelRate
from endcap.marketplace.schemas import AudiencePin, Forecast, ForecastLine, ForecastRequest
from endcap.marketplace.targeting import (
    AudienceTargeting,
    Offer,
    Published,
    invalid,
    premium_of,
    required_audiences,
)
from endcap.money import share_setting
from endcap.privacy.channels import Channel
from endcap.privacy.settings import PrivacyGateSettings


@dataclass(frozen=True, slots=True)
class Quote:
    # Each audience and the version a booking pins, in the order asked.
    versions: list[tuple[uuid.UUID, int]]
    holdout_share: Decimal
    currency: str
    plan: Plan
    settings: dict[Channel, ChannelRate]


class Quoting:
    def __init__(
        self,
        session: AsyncSession,
        gate: PrivacyGateSettings,
        market: MarketplaceSettings,
        cache: QuoteCache | None = None,
    ) -> None:
        """``cache``: where quotes that may be a moment behind (drafts, forecasts) read the
        audiences and rates they price (quote_cache.py); never a booking."""
        self.targeting = AudienceTargeting(session, gate)
        self.channels = ChannelService(session)
        self.market = market
        self.cache = cache

    async def forecast(self, request: ForecastRequest, *, brand: uuid.UUID | None) -> Forecast:
        """The quote a booking would get; capacity left is exact for the retailer (no
        ``brand``), as the brand is shown it otherwise (privacy/sizes.brand_left).
        Audiences and rates may come from the cache; capacity left is read now."""
        quote = await self.quote(request, cached=True)
        mondays = {line.channel: sorted(line.weeks) for line in quote.plan.lines}
        least_left = await self.channels.least_left(mondays, quote.settings, brand=brand)
        lines = []
        for line in quote.plan.lines:
            left = least_left[line.channel]
            lines.append(
                ForecastLine(
                    channel=line.channel,
                    reach=line.reach,
                    treatment_reach=line.treatment_reach,
                    impressions=line.impressions,
                    cpm=line.cpm,
                    cost=line.cost,
                    capacity_left=left,
                    fits=all(n <= left for n in line.weeks.values()),
                )
            )
        days = (request.ends_on - request.starts_on).days + 1
        return Forecast(
            audience_ids=[audience for audience, _ in quote.versions],
            audiences=[AudiencePin(id=a, version=v) for a, v in quote.versions],
            starts_on=request.starts_on,
            ends_on=request.ends_on,
            weeks=(Decimal(days) / 7).quantize(Decimal("0.1")),
            frequency_cap=request.frequency_cap,
            holdout_share=quote.holdout_share,
            currency=quote.currency,
            lines=lines,
            impressions=quote.plan.impressions,
            cost=quote.plan.cost,
            budget_limited=quote.plan.budget_limited,
        )

    async def quote(
        self, request: ForecastRequest, *, cached: bool = False, published: Published | None = None
    ) -> Quote:
        """The plan for ``request``; InvalidRequestError (422, with a pointer) when it cannot
        be booked as asked. ``cached``: audiences and rates may come from the cache (a
        moment behind a change another process made); a booking reads them now, the
        audiences with its campaign (``published``)."""
        cache = self.cache if cached else None
        self._check_dates(request.starts_on, request.ends_on)
        share = self._holdout_share(request.holdout_share)
        if len(set(request.channels)) != len(request.channels):
            raise invalid("/channels", "each channel may be named once")
        choice = required_audiences(request.audience_ids, request.audience_id)
        offers = await self.targeting.offers(choice, cache, published)
        for i, channel in enumerate(request.channels):
            for offer in offers:
                if channel not in offer.reach:
                    named = (
                        "this audience's" if len(offers) == 1 else f"audience {offer.audience_id}'s"
                    )
                    raise invalid(
                        f"/channels/{i}",
                        f"too few of {named} shoppers consent to {channel.value} "
                        f"(open: {', '.join(sorted(c.value for c in offer.reach)) or 'none'})",
                    )
        settings = await self.channels.rates_for(request.channels, cache)
        currency = self._currency(request, settings, offers)
        for channel, channel_settings in settings.items():
            if request.frequency_cap > channel_settings.max_per_profile_week:
                raise invalid(
                    "/frequency_cap",
                    f"{channel.value} allows at most {channel_settings.max_per_profile_week} "
                    "contacts per shopper per week",
                )
        premium = premium_of(offers)
        return Quote(
            versions=[(offer.audience_id, offer.version) for offer in offers],
            holdout_share=share,
            currency=currency,
            plan=plan(
                await self.targeting.reach(offers, request.channels),
                {c: s.cpm + premium for c, s in settings.items()},
                starts_on=request.starts_on,
                ends_on=request.ends_on,
                frequency_cap=request.frequency_cap,
                holdout_share=share,
                budget=request.budget,
            ),
            settings=settings,
        )

    def _check_dates(self, starts_on: date, ends_on: date) -> None:
        today = utcnow().date()
        if starts_on < today:
            raise invalid("/starts_on", f"the flight cannot start in the past (today is {today})")
        if starts_on > today + timedelta(days=self.market.max_days_ahead):
            raise invalid(
                "/starts_on",
                f"flights can be booked at most {self.market.max_days_ahead} days ahead",
            )
        if ends_on < starts_on:
            raise invalid("/ends_on", "the flight cannot end before it starts")
        if ends_on - starts_on >= timedelta(days=self.market.max_flight_days):
            raise invalid(
                "/ends_on", f"a flight may last at most {self.market.max_flight_days} days"
            )

    def _holdout_share(self, asked: Decimal | None) -> Decimal:
        share = asked if asked is not None else share_setting(self.market.default_holdout_share)
        low = Decimal(str(self.market.min_holdout_share))
        high = Decimal(str(self.market.max_holdout_share))
        if not low <= share <= high:
            raise invalid(
                "/holdout_share",
                f"the holdout must be between {low:.0%} and {high:.0%} of the audience",
            )
        return share

    @staticmethod
    def _currency(
        request: ForecastRequest, settings: dict[Channel, ChannelRate], offers: list[Offer]
    ) -> str:
        priced = {o.entry.price.currency for o in offers if o.entry.price}
        rates = {s.currency for s in settings.values()}
        currencies = rates | priced
        if len(currencies) != 1:
            apart = [
                f"audience {o.entry.name!r} in {o.entry.price.currency}"
                for o in offers
                if o.entry.price and {o.entry.price.currency} != rates
            ]
            raise invalid(
                "/channels",
                f"priced in more than one currency: the rate cards in {', '.join(sorted(rates))}"
                + "".join(f", {what}" for what in apart),
            )
        (currency,) = currencies
        if request.currency is not None and request.currency != currency:
            raise invalid(
                "/currency", f"the rate card is in {currency}; the budget is in {request.currency}"
            )
        return currency
