"""Queries on the consent ledger."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.consent.models import ConsentEvent


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
