"""Queries on campaigns, their audiences, lines and audit trail, on channels and their
capacity, and on how the audiences a campaign targets overlap."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Row,
    TextualSelect,
    and_,
    bindparam,
    delete,
    func,
    text,
    tuple_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.frozen_overlaps import FrozenOverlaps, PairCount
from endcap.audiences.membership import IS_CURRENT_VERSION, IS_PUBLISHED, MembershipRepository
from endcap.audiences.models import Audience, AudienceMember, AudienceVersion
from endcap.audiences.shown_consent import PURPOSE_BITS
from endcap.consent.models import Purpose
from endcap.db.base import table_of
from endcap.db.bulk import is_postgres
from endcap.marketplace.models import (
    Campaign,
    CampaignAudience,
    CampaignEvent,
    CampaignLine,
    CampaignStatus,
    CapacityReservation,
    ChannelSettings,
    ChannelWeek,
)
from endcap.pagination import PageRequest, keyset

WEEKS = table_of(ChannelWeek)
RESERVATIONS = table_of(CapacityReservation)
WEEK_COLUMNS = (WEEKS.c.channel, WEEKS.c.week_start, WEEKS.c.capacity, WEEKS.c.booked)
WeekRow = Row[tuple[str, date, int, int]]
_ADD_BOOKED = (
    update(WEEKS)
    .where(WEEKS.c.channel == bindparam("p_channel"), WEEKS.c.week_start == bindparam("p_week"))
    .values(booked=WEEKS.c.booked + bindparam("p_n"))
)
# Text, because SQLAlchemy 2.0 compiles a dialect INSERT ... ON CONFLICT afresh on every
# run (its statement cache leaves them out); PostgreSQL and SQLite spell it alike. One
# statement per number of weeks taken, built once each. A booking takes its weeks in one
# round trip where it took three (put them on the books, lock them, add to them;
# tests/perf/profile_booking). A week new to the books is inserted holding the booking; a
# week already there gets it added only where it fits, and is row-locked either way (ON
# CONFLICT DO UPDATE locks the rows it checks), in the order of the VALUES.
_TAKE_WEEKS_HEAD = "INSERT INTO channel_weeks (channel, week_start, capacity, booked) VALUES "
_TAKE_WEEKS_UPDATE = (
    " ON CONFLICT (channel, week_start) DO UPDATE"
    " SET booked = channel_weeks.booked + excluded.booked"
    " WHERE channel_weeks.booked + excluded.booked <= channel_weeks.capacity"
)
_TAKE_WEEKS_TAIL = " RETURNING channel, week_start, capacity, booked"


# On PostgreSQL the same statement also writes what the campaign holds of each week (a
# data-modifying WITH, which SQLite lacks): the weeks are locked from this statement to
# the commit, and every booking of the same weeks waits that long, so one round trip
# fewer there shortens the queue on contended weeks. Should a week be short, the
# booking fails and its transaction's rollback takes the rows back with the rest.
_HOLD_HEAD = "WITH held AS (INSERT INTO capacity_reservations"
_HOLD_HEAD += " (campaign_id, partner_id, channel, week_start, impressions) VALUES "
_HOLD_TAKEN = "), taken AS ("
_HOLD_TAIL = ") SELECT channel, week_start, capacity, booked FROM taken"


@functools.lru_cache(maxsize=256)
def _take_weeks(rows: int, *, hold: bool) -> TextualSelect:
    """The statement taking ``rows`` weeks, and if ``hold`` writing the campaign's hold of
    each; its parameters are numbered, never values. Its answer is typed (SQLite returns a
    date as text otherwise)."""
    values = ", ".join(f"(:c{i}, :w{i}, :k{i}, :n{i})" for i in range(rows))
    sql = _TAKE_WEEKS_HEAD + values + _TAKE_WEEKS_UPDATE + _TAKE_WEEKS_TAIL
    params = [
        bindparam(f"{name}{i}", type_=column.type)
        for i in range(rows)
        for name, column in zip("cwkn", WEEK_COLUMNS, strict=True)
    ]
    if hold:
        held = ", ".join(f"(:campaign, :partner, :c{i}, :w{i}, :n{i})" for i in range(rows))
        sql = _HOLD_HEAD + held + _HOLD_TAKEN + sql + _HOLD_TAIL
        params.append(bindparam("campaign", type_=RESERVATIONS.c.campaign_id.type))
        params.append(bindparam("partner", type_=RESERVATIONS.c.partner_id.type))
    return text(sql).bindparams(*params).columns(*WEEK_COLUMNS)


@dataclass(frozen=True, slots=True)
class ChannelRate:
    """What a quote reads of a channel's settings: plain values, which a cache may keep
    past the session that read them (an ORM object could not)."""

    channel: str
    cpm: Decimal
    currency: str
    weekly_capacity: int
    max_per_profile_week: int


SETTINGS = table_of(ChannelSettings)
# Built once: every forecast and booking runs them. Core rows, not ORM objects: an
# object load costs more Python than the query.
_RATES_OF = sa_select(
    SETTINGS.c.channel,
    SETTINGS.c.cpm,
    SETTINGS.c.currency,
    SETTINGS.c.weekly_capacity,
    SETTINGS.c.max_per_profile_week,
).where(SETTINGS.c.channel.in_(bindparam("p_channels", expanding=True)))
_WEEKS_OF = (
    sa_select(*WEEK_COLUMNS)
    .where(
        WEEKS.c.channel.in_(bindparam("p_channels", expanding=True)),
        WEEKS.c.week_start.between(bindparam("p_first"), bindparam("p_last")),
    )
    .order_by(WEEKS.c.channel, WEEKS.c.week_start)
)
# What one brand holds of each week (privacy/sizes.brand_left); and the weeks with it, in
# one round trip, for a brand's forecast. Built once: every brand forecast and booking runs
# one of them.
_HELD = (
    sa_select(
        RESERVATIONS.c.channel,
        RESERVATIONS.c.week_start,
        func.sum(RESERVATIONS.c.impressions).label("own"),
    )
    .where(
        RESERVATIONS.c.partner_id == bindparam("p_partner"),
        RESERVATIONS.c.channel.in_(bindparam("p_channels", expanding=True)),
        RESERVATIONS.c.week_start.between(bindparam("p_first"), bindparam("p_last")),
    )
    .group_by(RESERVATIONS.c.channel, RESERVATIONS.c.week_start)
)
_HELD_WEEKS = _HELD.subquery()
_WEEKS_HELD_BY = _WEEKS_OF.add_columns(func.coalesce(_HELD_WEEKS.c.own, 0)).outerjoin(
    _HELD_WEEKS,
    and_(_HELD_WEEKS.c.channel == WEEKS.c.channel, _HELD_WEEKS.c.week_start == WEEKS.c.week_start),
)
_LOCK_WEEKS = (
    sa_select(*WEEK_COLUMNS)
    .where(tuple_(WEEKS.c.channel, WEEKS.c.week_start).in_(bindparam("p_weeks", expanding=True)))
    .order_by(WEEKS.c.channel, WEEKS.c.week_start)
    .with_for_update()
)
_LOCK_CAMPAIGN = select(Campaign).where(col(Campaign.id) == bindparam("p_id")).with_for_update()
# A booking's campaign, locked, with its audiences in the brand's order, each with its
# current version where it is published (what the booking prices and pins): one round
# trip where it took three (tests/perf/profile_booking). Only the campaign is locked, as
# before; the audiences are read in the booking's transaction, as before.
_LOCK_CAMPAIGN_WITH_AUDIENCES = (
    select(Campaign, CampaignAudience, Audience, AudienceVersion)
    .outerjoin(CampaignAudience, col(CampaignAudience.campaign_id) == col(Campaign.id))
    .outerjoin(Audience, and_(col(Audience.id) == col(CampaignAudience.audience_id), IS_PUBLISHED))
    .outerjoin(AudienceVersion, IS_CURRENT_VERSION)
    .where(col(Campaign.id) == bindparam("p_id"))
    .order_by(col(CampaignAudience.position))
    .with_for_update(of=Campaign)
)
_AUDIENCES_OF = (
    select(CampaignAudience)
    .where(col(CampaignAudience.campaign_id).in_(bindparam("p_ids", expanding=True)))
    .order_by(col(CampaignAudience.campaign_id), col(CampaignAudience.position))
)
# Rows every draft and booking writes, as plain inserts: an ORM flush costs more Python
# than the statement itself (tests/perf/bench_booking), and nothing reads them back.
_ADD_AUDIENCES = table_of(CampaignAudience).insert()
_ADD_LINES = table_of(CampaignLine).insert()
_ADD_EVENT = table_of(CampaignEvent).insert()
_AUDIENCES = table_of(CampaignAudience)
_PIN_VERSION = (
    update(_AUDIENCES)
    .where(
        _AUDIENCES.c.campaign_id == bindparam("p_campaign"),
        _AUDIENCES.c.position == bindparam("p_position"),
    )
    .values(audience_version=bindparam("p_version"))
)
MEMBERS = table_of(AudienceMember)


@dataclass(frozen=True, slots=True)
class LockedForBooking:
    campaign: Campaign
    audiences: list[CampaignAudience]  # in the brand's order
    # Each audience with its current version; None where it is not published.
    published: dict[uuid.UUID, tuple[Audience, AudienceVersion] | None]


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, channel: str) -> ChannelSettings | None:
        return await self.session.get(ChannelSettings, channel)

    async def rates(self, channels: Iterable[str]) -> dict[str, ChannelRate]:
        """The rates of those of ``channels`` that have settings."""
        found = await self.session.execute(_RATES_OF, {"p_channels": sorted(channels)})
        return {row[0]: ChannelRate(*row) for row in found.all()}

    async def all(self) -> list[ChannelSettings]:
        query = select(ChannelSettings).order_by(col(ChannelSettings.channel))
        return list((await self.session.exec(query)).all())

    async def save(self, settings: ChannelSettings) -> ChannelSettings:
        merged = await self.session.merge(settings)
        await self.session.flush()
        return merged

    async def set_capacity_from(self, channel: str, first_week: date, capacity: int) -> None:
        """New weekly capacity for ``first_week`` and every later week already on the books.

        The weeks are locked first in week order, the order bookings lock them in, so a
        change of capacity and a booking never deadlock.
        """
        lock = (
            select(ChannelWeek)
            .where(col(ChannelWeek.channel) == channel, col(ChannelWeek.week_start) >= first_week)
            .order_by(col(ChannelWeek.week_start))
            .with_for_update()
        )
        await self.session.exec(lock)
        await self.session.execute(
            update(WEEKS)
            .where(WEEKS.c.channel == channel, WEEKS.c.week_start >= first_week)
            .values(capacity=capacity)
        )

    async def oversold(self, first_week: date) -> list[WeekRow]:
        """Weeks from ``first_week`` on whose bookings exceed their capacity (a capacity
        lowered after they were booked: set_capacity_from keeps the bookings), by channel
        and week."""
        query = (
            sa_select(*WEEK_COLUMNS)
            .where(WEEKS.c.week_start >= first_week, WEEKS.c.booked > WEEKS.c.capacity)
            .order_by(WEEKS.c.channel, WEEKS.c.week_start)
        )
        return list((await self.session.execute(query)).all())

    async def weeks(self, channel: str, first: date, last: date) -> list[WeekRow]:
        """(channel, week_start, capacity, booked) of the channel's weeks on the books.

        Rows, not ORM objects: bookings change ``booked`` with set-based UPDATEs,
        which an identity map would not see.
        """
        return await self.weeks_of([channel], first, last)

    async def weeks_of(self, channels: Iterable[str], first: date, last: date) -> list[WeekRow]:
        """:meth:`weeks` of several channels in one query, by channel and week."""
        params = {"p_channels": sorted(channels), "p_first": first, "p_last": last}
        return list((await self.session.execute(_WEEKS_OF, params)).all())

    async def take_weeks(
        self,
        campaign_id: uuid.UUID,
        partner_id: uuid.UUID,
        weeks: Sequence[tuple[str, date, int, int]],
    ) -> list[WeekRow]:
        """Add ``n`` to ``booked`` of each (channel, week, capacity, n), in one statement: a
        week not on the books yet is put there with ``capacity``, holding ``n``; a week on
        the books gets ``n`` only if it still fits (a brand's booking must also fit what it
        is shown left, which the caller checks under these locks). Every week is
        row-locked until the transaction ends, in the order given, so give them in
        (channel, week) order, the order every booking and release locks them in. The
        campaign's hold of each week (a capacity reservation of ``n``) is written too: in
        the same statement on PostgreSQL, right after it on SQLite.

        Returns the weeks that took their ``n``, as they are now: a week missing from the
        answer did not have room. A new week is inserted whatever its ``n``, so the caller
        must check those rows against their capacity, and roll back when any week is short
        (which takes the holds back too).
        """
        if not weeks:
            return []
        hold = is_postgres(self.session)
        params: dict[str, object] = {"campaign": campaign_id, "partner": partner_id} if hold else {}
        for i, (channel, monday, capacity, n) in enumerate(weeks):
            params.update({f"c{i}": channel, f"w{i}": monday, f"k{i}": capacity, f"n{i}": n})
        statement = _take_weeks(len(weeks), hold=hold)
        taken = list((await self.session.execute(statement, params)).all())
        if not hold:
            await self.session.execute(
                RESERVATIONS.insert(),
                [
                    {
                        "campaign_id": campaign_id,
                        "partner_id": partner_id,
                        "channel": c,
                        "week_start": w,
                        "impressions": n,
                    }
                    for c, w, _, n in weeks
                ],
            )
        return taken

    async def weeks_held_by(
        self, partner_id: uuid.UUID, channels: Iterable[str], first: date, last: date
    ) -> dict[tuple[str, date], tuple[int, int, int]]:
        """The weeks of :meth:`weeks_of` as (capacity, booked, what the brand's campaigns
        hold of it), by (channel, week)."""
        params = {
            "p_channels": sorted(channels),
            "p_first": first,
            "p_last": last,
            "p_partner": partner_id,
        }
        rows = await self.session.execute(_WEEKS_HELD_BY, params)
        return {(c, w): (int(k), int(n), int(own)) for c, w, k, n, own in rows.tuples()}

    async def held_by(
        self, partner_id: uuid.UUID, channels: Iterable[str], first: date, last: date
    ) -> dict[tuple[str, date], int]:
        """What the brand's campaigns hold of each week of ``channels`` from ``first`` to
        ``last`` (weeks it holds nothing of are left out)."""
        params = {
            "p_channels": sorted(channels),
            "p_first": first,
            "p_last": last,
            "p_partner": partner_id,
        }
        rows = (await self.session.execute(_HELD, params)).tuples()
        return {(str(c), w): int(n) for c, w, n in rows}

    async def lock_weeks(self, keys: Iterable[tuple[str, date]]) -> list[WeekRow]:
        """The channel-weeks, freshly read and row-locked until the transaction ends.

        Locked in one fixed order (channel, week), so two bookings that want the
        same weeks queue behind each other instead of deadlocking.
        """
        wanted = sorted(set(keys))
        if not wanted:
            return []
        return list((await self.session.execute(_LOCK_WEEKS, {"p_weeks": wanted})).all())

    async def add_booked(self, change: Mapping[tuple[str, date], int]) -> None:
        """Add ``change[(channel, week)]`` to each week's ``booked`` (negative gives back).

        One statement run for every week at once; lock the weeks first.
        """
        if change:
            await self.session.execute(
                _ADD_BOOKED,
                [{"p_channel": c, "p_week": w, "p_n": n} for (c, w), n in change.items()],
            )


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, campaign: Campaign) -> Campaign:
        self.session.add(campaign)
        await self.session.flush()
        return campaign

    async def get(self, campaign_id: uuid.UUID, *, for_update: bool = False) -> Campaign | None:
        if not for_update:
            return await self.session.get(Campaign, campaign_id)
        # Row lock: two transitions of one campaign run one after the other.
        return (await self.session.exec(_LOCK_CAMPAIGN, params={"p_id": campaign_id})).first()

    async def locked_for_booking(self, campaign_id: uuid.UUID) -> LockedForBooking | None:
        """The campaign, row-locked as :meth:`get` ``for_update`` locks it, its audiences
        in the order the brand listed them, and each audience with its current version if
        it is published; None when there is no such campaign."""
        params = {"p_id": campaign_id}
        rows = (await self.session.execute(_LOCK_CAMPAIGN_WITH_AUDIENCES, params)).all()
        if not rows:
            return None
        targeted = [row for row in rows if row[1] is not None]
        return LockedForBooking(
            rows[0][0],
            [row[1] for row in targeted],
            {
                row[1].audience_id: (row[2], row[3]) if row[2] and row[3] else None
                for row in targeted
            },
        )

    async def list_page(
        self,
        page: PageRequest,
        *,
        partner_id: uuid.UUID | None = None,
        status: CampaignStatus | None = None,
    ) -> list[Campaign]:
        query = select(Campaign)
        if partner_id is not None:
            query = query.where(col(Campaign.partner_id) == partner_id)
        if status is not None:
            query = query.where(col(Campaign.status) == status)
        query = keyset(query, col(Campaign.created_at), col(Campaign.id), page)
        return list((await self.session.exec(query)).all())

    async def audiences(self, campaign_id: uuid.UUID) -> list[CampaignAudience]:
        """The campaign's audiences in the order the brand listed them."""
        return (await self.audiences_of([campaign_id])).get(campaign_id, [])

    async def audiences_of(
        self, campaign_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[CampaignAudience]]:
        """The audiences of several campaigns (one query), each list in the brand's order."""
        ids = sorted(set(campaign_ids))
        if not ids:
            return {}
        found: dict[uuid.UUID, list[CampaignAudience]] = {}
        for row in (await self.session.exec(_AUDIENCES_OF, params={"p_ids": ids})).all():
            found.setdefault(row.campaign_id, []).append(row)
        return found

    async def add_audiences(
        self, campaign_id: uuid.UUID, audience_ids: Sequence[uuid.UUID]
    ) -> list[CampaignAudience]:
        """A new draft's audiences (none pinned yet), in the order given."""
        rows = [
            CampaignAudience(campaign_id=campaign_id, position=i, audience_id=audience_id)
            for i, audience_id in enumerate(audience_ids)
        ]
        if rows:
            await self.session.execute(_ADD_AUDIENCES, [row.model_dump() for row in rows])
        return rows

    async def pin_versions(
        self, audiences: Sequence[CampaignAudience], versions: Mapping[uuid.UUID, int]
    ) -> None:
        """Set each audience's pinned version to ``versions[audience_id]`` (one executemany)."""
        if not audiences:
            return
        await self.session.execute(
            _PIN_VERSION,
            [
                {
                    "p_campaign": a.campaign_id,
                    "p_position": a.position,
                    "p_version": versions[a.audience_id],
                }
                for a in audiences
            ],
        )
        for audience in audiences:  # as now stored; the session has nothing left to write
            set_committed_value(audience, "audience_version", versions[audience.audience_id])

    async def add_lines(self, lines: Sequence[CampaignLine]) -> None:
        if lines:
            await self.session.execute(_ADD_LINES, [line.model_dump() for line in lines])

    async def add_event(self, event: CampaignEvent) -> None:
        """Append to the audit trail (its id is the database's)."""
        await self.session.execute(_ADD_EVENT, event.model_dump(exclude={"id"}))

    async def set_audiences(
        self, campaign_id: uuid.UUID, audience_ids: Sequence[uuid.UUID]
    ) -> list[CampaignAudience]:
        """Replace a draft's audiences by ``audience_ids``, in that order."""
        # ORM-enabled, so the rows it deletes also leave the session before their
        # positions are taken again.
        await self.session.execute(
            delete(CampaignAudience).where(col(CampaignAudience.campaign_id) == campaign_id)
        )
        return await self.add_audiences(campaign_id, audience_ids)

    async def lines(self, campaign_id: uuid.UUID) -> list[CampaignLine]:
        query = (
            select(CampaignLine)
            .where(col(CampaignLine.campaign_id) == campaign_id)
            .order_by(col(CampaignLine.channel))
        )
        return list((await self.session.exec(query)).all())

    async def reservations(self, campaign_id: uuid.UUID) -> list[CapacityReservation]:
        query = (
            select(CapacityReservation)
            .where(col(CapacityReservation.campaign_id) == campaign_id)
            .order_by(col(CapacityReservation.channel), col(CapacityReservation.week_start))
        )
        return list((await self.session.exec(query)).all())

    async def drop_reservations(self, campaign_id: uuid.UUID, weeks: Iterable[date]) -> None:
        table = table_of(CapacityReservation)
        await self.session.execute(
            delete(table).where(
                table.c.campaign_id == campaign_id, table.c.week_start.in_(sorted(set(weeks)))
            )
        )

    async def events(self, campaign_id: uuid.UUID) -> list[CampaignEvent]:
        query = (
            select(CampaignEvent)
            .where(col(CampaignEvent.campaign_id) == campaign_id)
            .order_by(col(CampaignEvent.id))
        )
        return list((await self.session.exec(query)).all())


class OverlapRepository:
    """How the member versions a campaign targets overlap, among consenting shoppers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def consented_counts(
        self, versions: Sequence[tuple[uuid.UUID, int]], purpose: Purpose
    ) -> dict[tuple[int, int], PairCount]:
        """Exact members holding ``purpose`` consent, per pair of ``versions`` (i < j, by
        index): of each side and of both, as first counted (audiences/frozen_overlaps.py).

        Retailer-side counts: a brand sees them only as :mod:`endcap.marketplace.reach`
        allows. Pairs not counted before are counted by :meth:`count_now`.
        """
        if len(versions) < 2:
            return {}
        return await FrozenOverlaps(self.session).counted(
            versions, purpose.value, lambda: self.count_now(versions, purpose)
        )

    async def count_now(
        self, versions: Sequence[tuple[uuid.UUID, int]], purpose: Purpose
    ) -> dict[tuple[int, int], PairCount]:
        """:meth:`consented_counts` counted now, every pair (those sharing no one too), among
        the members holding ``purpose`` at their version's refresh: each side's count is
        the reach the catalog showed (audiences/shown_consent.py). The benchmark times this."""
        return await MembershipRepository(self.session).shown_overlaps(
            versions, PURPOSE_BITS[purpose]
        )
