"""Queries on campaigns, their lines and audit trail, and on channels and their capacity."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import delete, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.db.bulk import dialect_insert
from endcap.marketplace.models import (
    Campaign,
    CampaignEvent,
    CampaignLine,
    CampaignStatus,
    CapacityReservation,
    ChannelSettings,
    ChannelWeek,
)
from endcap.pagination import PageRequest, keyset

WEEKS = table_of(ChannelWeek)


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, channel: str) -> ChannelSettings | None:
        return await self.session.get(ChannelSettings, channel)

    async def some(self, channels: Iterable[str]) -> dict[str, ChannelSettings]:
        query = select(ChannelSettings).where(col(ChannelSettings.channel).in_(sorted(channels)))
        return {s.channel: s for s in (await self.session.exec(query)).all()}

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

    async def weeks(self, channel: str, first: date, last: date) -> list[ChannelWeek]:
        query = (
            select(ChannelWeek)
            .where(
                col(ChannelWeek.channel) == channel,
                col(ChannelWeek.week_start) >= first,
                col(ChannelWeek.week_start) <= last,
            )
            .order_by(col(ChannelWeek.week_start))
        )
        return list((await self.session.exec(query)).all())

    async def open_weeks(self, weeks: Iterable[tuple[str, date, int]]) -> None:
        """Put (channel, week, capacity) on the books; weeks already there keep theirs."""
        rows = [
            {"channel": channel, "week_start": monday, "capacity": capacity, "booked": 0}
            for channel, monday, capacity in weeks
        ]
        if rows:
            insert = dialect_insert(self.session, WEEKS).on_conflict_do_nothing()
            await self.session.execute(insert, rows)

    async def lock_weeks(self, keys: Iterable[tuple[str, date]]) -> list[ChannelWeek]:
        """The channel-weeks, freshly read and row-locked until the transaction ends.

        Locked in one fixed order (channel, week), so two bookings that want the
        same weeks queue behind each other instead of deadlocking.
        """
        wanted = sorted(set(keys))
        if not wanted:
            return []
        query = (
            select(ChannelWeek)
            .where(tuple_(col(ChannelWeek.channel), col(ChannelWeek.week_start)).in_(wanted))
            .order_by(col(ChannelWeek.channel), col(ChannelWeek.week_start))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list((await self.session.exec(query)).all())

    async def flush(self) -> None:
        await self.session.flush()


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
        query = select(Campaign).where(col(Campaign.id) == campaign_id).with_for_update()
        return (await self.session.exec(query)).first()

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

    async def add_all(self, rows: Iterable[Any]) -> None:
        self.session.add_all(list(rows))
        await self.session.flush()

    async def events(self, campaign_id: uuid.UUID) -> list[CampaignEvent]:
        query = (
            select(CampaignEvent)
            .where(col(CampaignEvent.campaign_id) == campaign_id)
            .order_by(col(CampaignEvent.id))
        )
        return list((await self.session.exec(query)).all())
