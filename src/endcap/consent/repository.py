"""Queries on the consent ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.consent.models import ConsentEvent, ConsentStatus, Purpose
from endcap.db.base import table_of
from endcap.identity.models import Customer


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: ConsentEvent) -> ConsentEvent:
        self.session.add(event)
        await self.session.flush()
        return event

    async def find(self, event: ConsentEvent) -> ConsentEvent | None:
        """The same event already in the ledger (customer, purpose, time and status)."""
        query = select(ConsentEvent).where(
            col(ConsentEvent.customer_ref) == event.customer_ref,
            col(ConsentEvent.purpose) == event.purpose,
            col(ConsentEvent.recorded_at) == event.recorded_at,
            col(ConsentEvent.status) == event.status,
        )
        return (await self.session.exec(query)).first()

    async def events_of(self, customer_refs: Sequence[int]) -> list[ConsentEvent]:
        query = (
            select(ConsentEvent)
            .where(col(ConsentEvent.customer_ref).in_(customer_refs))
            .order_by(col(ConsentEvent.recorded_at), col(ConsentEvent.id))
        )
        return list((await self.session.exec(query)).all())


def consented_profiles(purpose: Purpose) -> Select[Any]:
    """Profiles whose latest event for ``purpose``, across all their records, is a grant.

    The same rule as :func:`endcap.consent.service.current_state`, in SQL: a grant
    must be strictly later than any withdrawal, so a tie goes to the withdrawal.
    """
    e, c = table_of(ConsentEvent).c, table_of(Customer).c
    granted = func.max(case((e.status == ConsentStatus.GRANTED.value, e.recorded_at)))
    withdrawn = func.max(case((e.status == ConsentStatus.WITHDRAWN.value, e.recorded_at)))
    return (
        sa_select(c.profile_id)
        .select_from(table_of(ConsentEvent).join(table_of(Customer), c.id == e.customer_ref))
        .where(e.purpose == purpose.value, c.profile_id.is_not(None))
        .group_by(c.profile_id)
        .having(and_(granted.is_not(None), or_(withdrawn.is_(None), granted > withdrawn)))
    )
