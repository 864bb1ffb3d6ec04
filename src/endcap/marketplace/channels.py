"""Rate cards and capacity: what each channel costs, and how much of each week is left.

Capacity is kept per channel and ISO week. A booking takes its impressions from
every week of its flight in one transaction, in a fixed order (channel, week),
so concurrent bookings neither oversell a week nor deadlock; if any week is
short, the whole booking fails and takes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import NoReturn

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DEFAULT_CURRENCY
from endcap.db.types import utcnow
from endcap.errors import ConflictError, InvalidRequestError
from endcap.marketplace.models import ChannelSettings
from endcap.marketplace.plan import Plan, week_start
from endcap.marketplace.quote_cache import QuoteCache
from endcap.marketplace.repository import (
    CampaignRepository,
    ChannelRate,
    ChannelRepository,
    WeekRow,
)
from endcap.marketplace.schemas import (
    ChannelSettingsIn,
    ChannelSettingsPublic,
    ChannelWeekPublic,
    RateCard,
)
from endcap.money import retailer_priced
from endcap.privacy.channels import Channel
from endcap.privacy.sizes import brand_left

WEEKS_SHOWN = 12
MAX_WEEKS_SHOWN = 104


class CapacityExceededError(ConflictError):
    problem_type = "capacity-exceeded"
    title = "Capacity exceeded"


class ChannelService:
    def __init__(self, session: AsyncSession, currency: str = DEFAULT_CURRENCY) -> None:
        self.currency = currency  # the retailer's: every rate card is in it
        self.channels = ChannelRepository(session)
        self.campaigns = CampaignRepository(session)

    async def configure(self, channel: Channel, data: ChannelSettingsIn) -> ChannelSettingsPublic:
        """Set a channel's rate card and limits; weeks already on the books from this week on
        take the new capacity (bookings already made stay)."""
        saved = await self.channels.save(
            ChannelSettings(
                channel=channel.value,
                cpm=data.cpm,
                currency=retailer_priced(data.currency, self.currency, "/currency"),
                weekly_capacity=data.weekly_capacity,
                max_per_profile_week=data.max_per_profile_week,
                endpoint_url=str(data.endpoint_url) if data.endpoint_url else None,
                updated_at=utcnow(),
            )
        )
        this_week = week_start(utcnow().date())
        await self.channels.set_capacity_from(channel.value, this_week, data.weekly_capacity)
        return _settings_public(saved, await self._oversold(this_week))

    async def settings(self) -> list[ChannelSettingsPublic]:
        oversold = await self._oversold(week_start(utcnow().date()))
        return [_settings_public(s, oversold) for s in await self.channels.all()]

    async def _oversold(self, first_week: date) -> dict[str, list[ChannelWeekPublic]]:
        """Per channel, its weeks from ``first_week`` on booked past their capacity."""
        found: dict[str, list[ChannelWeekPublic]] = {}
        for channel, monday, capacity, booked in await self.channels.oversold(first_week):
            found.setdefault(channel, []).append(
                ChannelWeekPublic(
                    week_start=monday, capacity=capacity, booked=booked, left=capacity - booked
                )
            )
        return found

    async def rate_cards(self) -> list[RateCard]:
        return [_rate_card(s) for s in await self.channels.all()]

    async def rates_for(
        self, channels: Sequence[Channel], cache: QuoteCache | None = None
    ) -> dict[Channel, ChannelRate]:
        """Each channel's rate; InvalidRequestError (pointing at the channel) for one the
        retailer has not priced yet. From ``cache`` when it holds them all."""
        names = [c.value for c in channels]
        found = cache.rates(names) if cache is not None else None
        if found is None:
            stamp = cache.stamp() if cache is not None else None
            found = await self.channels.rates(names)
            if cache is not None:
                cache.remember_rates(stamp, found)
        for i, channel in enumerate(channels):
            if channel.value not in found:
                message = f"the retailer sells no {channel.value} yet (no rate card)"
                raise InvalidRequestError(
                    message, errors=[{"field": f"/channels/{i}", "message": message}]
                )
        return {channel: found[channel.value] for channel in channels}

    async def weeks(
        self, channel: Channel, first: date | None = None, last: date | None = None
    ) -> list[ChannelWeekPublic]:
        """Every week from ``first`` (default: this week) to ``last`` (default: 12 weeks on);
        weeks nobody has booked show full capacity. InvalidRequestError past two years."""
        first = first or utcnow().date()
        if last is None:
            last = date.fromordinal(min(first.toordinal() + 7 * WEEKS_SHOWN, date.max.toordinal()))
        if last < first or (last - first).days > 7 * MAX_WEEKS_SHOWN or last.year == date.max.year:
            message = f"ask for at most {MAX_WEEKS_SHOWN} weeks, last on or after first"
            raise InvalidRequestError(message, errors=[{"field": "last", "message": message}])
        settings = await self.channels.get(channel.value)
        capacity = settings.weekly_capacity if settings else 0
        booked = {w.week_start: w for w in await self.channels.weeks(channel.value, first, last)}
        shown = []
        monday = week_start(first)
        while monday <= last:
            week = booked.get(monday)
            cap, taken = (week.capacity, week.booked) if week else (capacity, 0)
            shown.append(
                ChannelWeekPublic(week_start=monday, capacity=cap, booked=taken, left=cap - taken)
            )
            monday = date.fromordinal(monday.toordinal() + 7)
        return shown

    async def least_left(
        self,
        mondays: Mapping[Channel, Sequence[date]],
        settings: Mapping[Channel, ChannelRate],
        *,
        brand: uuid.UUID | None = None,
    ) -> dict[Channel, int]:
        """For each channel, the least any of its ``mondays``' weeks has left (weeks nobody
        has booked have the ``settings``' full capacity): exact for the retailer (no
        ``brand``), as ``brand`` is shown it otherwise (privacy.sizes.brand_left)."""
        if not mondays:
            return {}
        first = min(min(days) for days in mondays.values())
        last = max(max(days) for days in mondays.values())
        channels = [c.value for c in mondays]
        if brand is None:
            weeks = await self.channels.weeks_of(channels, first, last)
            held = {(w.channel, w.week_start): (w.capacity, w.booked, 0) for w in weeks}
        else:
            held = await self.channels.weeks_held_by(brand, channels, first, last)
        shown = {}
        for channel, days in mondays.items():
            full = (settings[channel].weekly_capacity, 0, 0)  # a week nobody has booked
            lefts = []
            for monday in set(days):
                capacity, taken, own = held.get((channel.value, monday), full)
                exact = capacity - taken
                lefts.append(exact if brand is None else brand_left(capacity, taken, own))
            shown[channel] = min(lefts)
        return shown

    async def reserve(
        self,
        campaign_id: uuid.UUID,
        partner_id: uuid.UUID,
        plan: Plan,
        settings: Mapping[Channel, ChannelRate],
        *,
        exact: bool = True,
    ) -> None:
        """Take the plan's impressions from every channel-week for the campaign of the brand
        ``partner_id``, or raise CapacityExceededError (409) naming each short week and what
        it has left; the caller's transaction then rolls back, so a failed booking holds
        nothing. Unless ``exact`` (the retailer's view), a week fits and is shown as the
        brand is shown it (privacy.sizes.brand_left).

        Call it last in the transaction: the weeks stay locked until the commit, and
        every booking of the same weeks waits for that.
        """
        wanted = {
            (line.channel.value, monday): n
            for line in plan.lines
            for monday, n in line.weeks.items()
            if n
        }
        order = sorted(wanted)
        taken = {
            (week.channel, week.week_start): week
            for week in await self.channels.take_weeks(
                campaign_id,
                partner_id,
                [(c, m, settings[Channel(c)].weekly_capacity, wanted[(c, m)]) for c, m in order],
            )
        }
        # A brand's booking must fit what it is shown left too. Checked here, after the
        # statement, because the weeks it took are locked now and the brand's holds can
        # change only under those locks: read in the statement, they came from a snapshot
        # older than the lock, and a booking or a cancellation of the same brand committed
        # meanwhile moved the rounding, so whether a booking fit told the exact remainder.
        own = None if exact else await self._held(partner_id, order)

        def short(key: tuple[str, date]) -> bool:
            if key not in taken:  # on the books without room
                return True
            week, n = taken[key], wanted[key]
            if week.booked > week.capacity:  # new to the books, overfilled by this alone
                return True
            # This booking's hold is in ``own`` and in ``booked`` already.
            return own is not None and n > brand_left(
                week.capacity, week.booked - n, own.get(key, 0) - n
            )

        unfit = [k for k in order if short(k)]
        if unfit:
            # The weeks not taken are locked only now: what they show is read after.
            weeks = await self.channels.lock_weeks(unfit)
            self._refuse(
                weeks, wanted, taken, None if exact else await self._held(partner_id, unfit)
            )

    async def _held(
        self, partner_id: uuid.UUID, keys: Sequence[tuple[str, date]]
    ) -> dict[tuple[str, date], int]:
        first, last = min(m for _, m in keys), max(m for _, m in keys)
        return await self.channels.held_by(partner_id, {c for c, _ in keys}, first, last)

    @staticmethod
    def _refuse(
        weeks: Sequence[WeekRow],
        wanted: Mapping[tuple[str, date], int],
        taken: Mapping[tuple[str, date], WeekRow],
        own: Mapping[tuple[str, date], int] | None,
    ) -> NoReturn:
        """CapacityExceededError naming each short week and what it has left before this
        booking (a week the booking took holds it already, and so does the brand's
        ``own``): exact for the retailer (``own`` None), as the brand is shown it
        otherwise."""
        exact = own is None
        short = []
        for week in weeks:
            key = (week.channel, week.week_start)
            mine = wanted[key] if key in taken else 0
            booked = week.booked - mine
            left = (
                week.capacity - booked
                if own is None
                else brand_left(week.capacity, booked, own.get(key, 0) - wanted[key])
            )
            short.append(
                {
                    "channel": week.channel,
                    "week_start": week.week_start.isoformat(),
                    "wanted": wanted[key],
                    "left": left,
                }
            )
        raise CapacityExceededError(
            "not enough capacity: "
            + "; ".join(
                f"{s['channel']} week of {s['week_start']} has {s['left']} impressions left"
                + ("" if exact else " or a little more")
                + ", "
                f"the booking needs {s['wanted']}"
                for s in short
            ),
            capacity=short,
        )

    async def release(self, campaign_id: uuid.UUID, from_week: date) -> int:
        """Give back what the campaign holds from ``from_week`` on; returns the impressions."""
        held = {
            (r.channel, r.week_start): r.impressions
            for r in await self.campaigns.reservations(campaign_id)
            if r.week_start >= from_week
        }
        await self.channels.lock_weeks(held)  # in the one order every booking locks them
        await self.channels.add_booked({key: -n for key, n in held.items()})
        await self.campaigns.drop_reservations(campaign_id, (m for _, m in held))
        return sum(held.values())


def _rate_card(settings: ChannelSettings) -> RateCard:
    return RateCard(
        channel=Channel(settings.channel),
        cpm=settings.cpm,
        currency=settings.currency,
        max_per_profile_week=settings.max_per_profile_week,
    )


def _settings_public(
    settings: ChannelSettings, oversold: dict[str, list[ChannelWeekPublic]]
) -> ChannelSettingsPublic:
    return ChannelSettingsPublic(
        **_rate_card(settings).model_dump(),
        weekly_capacity=settings.weekly_capacity,
        endpoint_url=settings.endpoint_url,
        updated_at=settings.updated_at,
        oversold_weeks=oversold.get(settings.channel, []),
    )
