"""Overlaps count the members as the catalog's sizes and reach count them: as they held
consent at their version's refresh. Counted from live consent, a withdrawal between a
refresh and the first count of a pair left the overlap one short of the sizes it is
read beside (a brand subtracting the two would see that shopper), and the unions of a
forecast rested on other sets than the reach it shows. On the test database, in a
transaction rolled back after the test."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.frozen_overlaps import PairCount
from endcap.audiences.membership import MembershipRepository
from endcap.audiences.models import AudienceVersion
from endcap.audiences.shown_consent import ANY_PURPOSE
from endcap.consent.models import ProfileConsent, Purpose
from endcap.marketplace.repository import OverlapRepository
from endcap.privacy.channels import Channel
from tests.audiences.stamped import EMAIL, NOTHING, ONSITE_ONLY, shoppers, version


async def test_a_withdrawal_after_the_refresh_moves_no_overlap_off_the_sizes_shown(
    session: AsyncSession,
) -> None:
    await shoppers(session)
    a = await version(session, [*EMAIL, ONSITE_ONLY, *NOTHING[:50]], released=True)
    b = await version(session, [*EMAIL[:100], *NOTHING], released=True)
    shown_a, shown_b = await session.get(AudienceVersion, a), await session.get(AudienceVersion, b)
    assert shown_a is not None
    assert shown_b is not None
    assert (shown_a.consented_size, shown_b.consented_size) == (150, 100)
    email = Channel.EMAIL.value
    assert (shown_a.reach[email], shown_b.reach[email]) == (149, 100)

    # One shopper in both withdraws every consent after both were counted.
    await session.execute(delete(ProfileConsent).where(col(ProfileConsent.profile_id) == EMAIL[0]))
    await session.flush()

    audiences = MembershipRepository(session)
    # The catalog's overlap: both sides are the sizes it shows, and so is their overlap.
    assert await audiences.shown_overlaps([a, b], ANY_PURPOSE) == {(0, 1): PairCount(150, 100, 100)}
    # A forecast's unions per channel: each side is the reach it shows.
    counted = await OverlapRepository(session).count_now([a, b], Purpose.EMAIL)
    assert counted == {(0, 1): PairCount(149, 100, 100)}
