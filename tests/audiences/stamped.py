"""Audience versions stored and counted as a refresh stores and counts them, each member
stamped with the consent it holds (audiences/shown_consent.py), on a test's own shoppers:
for tests of what reads those stamps, in the test's rolled-back session."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
from sqlalchemy import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.membership import MembershipRepository
from endcap.audiences.models import Audience, AudienceMember, AudienceStatus, AudienceVersion
from endcap.audiences.release_check import Shown
from endcap.audiences.shown_consent import ANY_PURPOSE, PURPOSE_BITS
from endcap.consent.models import ProfileConsent, Purpose
from endcap.db.base import table_of
from endcap.db.types import utcnow
from endcap.identity.models import Profile
from endcap.privacy.channels import CHANNEL_PURPOSE
from endcap.privacy.models import ErasureTombstone

BASE = 90_000_000  # profile ids no loaded retailer uses
EMAIL = [BASE + i for i in range(1, 150)]  # 149 shoppers holding e-mail consent only
ONSITE_ONLY = BASE + 150  # one holding on-site consent only
NOTHING = [BASE + i for i in range(151, 301)]  # 150 who consented to no channel


async def shoppers(session: AsyncSession) -> None:
    session.add_all(Profile(id=p) for p in [*EMAIL, ONSITE_ONLY, *NOTHING])
    await session.flush()
    held = [(p, Purpose.EMAIL) for p in EMAIL] + [(ONSITE_ONLY, Purpose.TARGETING_ONSITE)]
    session.add_all(ProfileConsent(profile_id=p, purpose=u, granted_at=utcnow()) for p, u in held)
    await session.flush()


async def version(
    session: AsyncSession,
    members: list[int],
    *,
    released: bool,
    refreshed_ago: timedelta = timedelta(0),
) -> tuple[uuid.UUID, int]:
    """An audience whose version 1 holds ``members``, counted as a refresh ``refreshed_ago``
    counts it; released now, or not."""
    audiences = MembershipRepository(session)
    audience = await audiences.add(
        Audience(
            name=f"check {uuid.uuid4().hex[:8]}", status=AudienceStatus.DRAFT, current_version=1
        )
    )
    size = await audiences.store_member_ids(audience.id, 1, np.array(sorted(members), np.int64))
    counts = await audiences.shown_counts(audience.id, 1)
    reach = {c.value: counts[PURPOSE_BITS[p]] for c, p in CHANNEL_PURPOSE.items()}
    await audiences.add_version(
        AudienceVersion(
            audience_id=audience.id,
            version=1,
            size=size,
            consented_size=counts[ANY_PURPOSE],
            reach=reach,
            refreshed_at=utcnow() - refreshed_ago,
            released_at=utcnow() if released else None,
        )
    )
    return audience.id, 1


async def shown(session: AsyncSession, key: tuple[uuid.UUID, int]) -> Shown:
    """The numbers a version shows brands, as its refresh counted them."""
    found = await session.get(AudienceVersion, key)
    assert found is not None
    return Shown(found.size, found.reach, found.consented_size)


async def erase(session: AsyncSession, profiles: list[int], ago: timedelta) -> None:
    """What an erasure ``ago`` left of these shoppers in every audience version: nothing,
    and a tombstone counting one customer record each."""
    m = table_of(AudienceMember).c
    await session.execute(delete(table_of(AudienceMember)).where(m.profile_id.in_(profiles)))
    session.add(
        ErasureTombstone(
            erased_at=utcnow() - ago,
            requested_by_id_type="customer_id",
            transactions_policy="detach",
            customers_removed=len(profiles),
            identifiers_removed=0,
            consent_events_removed=0,
            transactions_affected=0,
        )
    )
    await session.flush()
