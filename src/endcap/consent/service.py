"""The consent ledger's rules.

Events are only ever appended. The state of a purpose for a profile is the
latest event across all of the profile's customer records; when two events
carry the same time, withdrawal wins (the safe reading). No event means not
granted.

This module is where that rule is written down; :mod:`endcap.consent.state` keeps its
answer per profile and purpose in ``profile_consents`` (the same rule in SQL), which
reach and exports read.
"""

from __future__ import annotations

from datetime import UTC

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.consent.models import ConsentEvent, ConsentStatus, Purpose
from endcap.consent.repository import ConsentRepository
from endcap.consent.schemas import ConsentEventPublic, ConsentRecord, ConsentState, PurposeState
from endcap.db.types import CLOCK_LEEWAY, storable_id, utcnow
from endcap.errors import InvalidRequestError, NotFoundError
from endcap.identity.repository import IdentityRepository


def current_state(events: list[ConsentEvent]) -> dict[Purpose, ConsentEvent]:
    """The latest event per purpose among ``events`` (one profile's, any order); a
    withdrawal beats a grant of the same time. The purpose is granted iff that event is
    a grant."""
    latest: dict[Purpose, ConsentEvent] = {}
    for event in events:
        purpose = Purpose(event.purpose)
        held = latest.get(purpose)
        if held is None or (event.recorded_at, event.status == ConsentStatus.WITHDRAWN) > (
            held.recorded_at,
            held.status == ConsentStatus.WITHDRAWN,
        ):
            latest[purpose] = event
    return latest


class ConsentService:
    def __init__(self, session: AsyncSession) -> None:
        self.ledger = ConsentRepository(session)
        self.identity = IdentityRepository(session)

    async def record(self, data: ConsentRecord) -> ConsentEventPublic:
        """Append one event (the same event twice is kept once); reach and exports honour
        it from the commit on. NotFoundError: unknown customer; InvalidRequestError: a
        decision dated in the future (:data:`CLOCK_LEEWAY`)."""
        now = utcnow()
        decided = data.recorded_at
        if decided is not None:  # no offset: UTC, as stored; any other shown in UTC, as read
            decided = (
                decided.replace(tzinfo=UTC) if decided.tzinfo is None else decided.astimezone(UTC)
            )
        if decided is not None and decided > now + CLOCK_LEEWAY:
            message = (
                f"recorded_at {decided.isoformat()} is in the future (it is"
                f" {now.isoformat(timespec='seconds')} here): a decision dated later would"
                " outrank every decision until then; send when the shopper decided"
            )
            problem = {"field": "/recorded_at", "message": message}
            raise InvalidRequestError(message, errors=[problem])
        # First, so that the record's profile and the ledger read below stay as they are.
        await self.ledger.lock()
        customer = await self.identity.customer(data.customer_id)
        if customer is None or customer.id is None:
            raise NotFoundError(f"no customer with id {data.customer_id!r}")
        event = ConsentEvent(
            customer_ref=customer.id,
            purpose=data.purpose,
            status=data.status,
            recorded_at=decided or now,
            source=data.source,
        )
        stored = await self.ledger.find(event)
        if stored is None:
            stored = await self.ledger.add(event)
            await self.ledger.refresh_profile_of(customer.id)
        return _public(stored, customer.customer_id)

    async def state(self, profile_id: int) -> ConsentState:
        stored = storable_id(profile_id)
        customers = await self.identity.profile_customers(profile_id) if stored else []
        if not customers:
            raise NotFoundError(f"no profile with id {profile_id}")
        names = {c.id: c.customer_id for c in customers}
        events = await self.ledger.events_of([c.id for c in customers if c.id is not None])
        latest = current_state(events)
        purposes = [
            PurposeState(
                purpose=purpose,
                status=ConsentStatus(latest[purpose].status) if purpose in latest else None,
                granted=purpose in latest and latest[purpose].status == ConsentStatus.GRANTED,
                recorded_at=latest[purpose].recorded_at if purpose in latest else None,
            )
            for purpose in Purpose
        ]
        ledger = [_public(e, names[e.customer_ref]) for e in events]
        return ConsentState(profile_id=profile_id, purposes=purposes, ledger=ledger)


def _public(event: ConsentEvent, customer_id: str) -> ConsentEventPublic:
    return ConsentEventPublic(
        customer_id=customer_id,
        purpose=Purpose(event.purpose),
        status=ConsentStatus(event.status),
        recorded_at=event.recorded_at,
        source=event.source,
    )
