"""Queries on the consent ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.consent.models import ConsentEvent, ProfileConsent, Purpose
from endcap.consent.state import lock_consents, refresh_consents
from endcap.db.base import table_of
from endcap.identity.models import Customer


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self) -> None:
        """Hold consent state still until this transaction ends (:mod:`endcap.consent.state`)."""
        await lock_consents(self.session)

    async def refresh_profile_of(self, customer_ref: int) -> None:
        """Recompute the consent state of the profile the record belongs to (if any)."""
        profile = select(col(Customer.profile_id)).where(col(Customer.id) == customer_ref)
        await refresh_consents(self.session, profile)

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
    """Profiles holding consent for ``purpose`` right now: the ledger's answer (the rule of
    :func:`endcap.consent.service.current_state`) as of the last committed change, read
    from the state every writer keeps in step (:mod:`endcap.consent.state`)."""
    s = table_of(ProfileConsent).c
    return sa_select(s.profile_id).where(s.purpose == purpose.value)
