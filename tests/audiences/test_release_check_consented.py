"""The difference check over the members behind the consented size (any channel's
consent), and over what members held at their refresh rather than now. On the check
itself (audiences/release_check.py) with a small minimum, on the test database, in a
transaction rolled back after each test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.membership import MembershipRepository
from endcap.audiences.models import AudienceVersion
from endcap.audiences.release_check import ReleaseCheck
from endcap.consent.models import ProfileConsent, Purpose
from endcap.db.types import utcnow
from endcap.privacy.channels import Channel
from endcap.privacy.difference import TooSimilarAudienceError
from tests.audiences.stamped import EMAIL, NOTHING, ONSITE_ONLY, erase, shoppers, shown, version

K, MINIMUM = 50, 100


def check(session: AsyncSession) -> ReleaseCheck:
    return ReleaseCheck(MembershipRepository(session), k=K, minimum=MINIMUM)


async def test_a_release_one_consenting_shopper_from_a_shown_consented_size_is_refused(
    session: AsyncSession,
) -> None:
    await shoppers(session)
    a = await version(session, [*EMAIL, ONSITE_ONLY, *NOTHING], released=True)
    released = await session.get(AudienceVersion, a)
    assert released is not None
    # Brands see A's consented size (150) and e-mail reach (149); its on-site reach of one
    # is under the minimum and shown to no one.
    assert (released.size, released.consented_size) == (300, 150)
    reach = released.reach
    assert (reach[Channel.EMAIL.value], reach[Channel.ONSITE_DISPLAY.value]) == (149, 1)

    # A without the on-site shopper and 60 who consented to nothing: 61 from A as a whole,
    # the same e-mail members, and one from A's consenting members.
    b = await version(session, [*EMAIL, *NOTHING[:90]], released=False)
    with pytest.raises(TooSimilarAudienceError) as refused:
        await check(session).ensure_apart(*b, None, "B", await shown(session, b))
    assert refused.value.conflicts_with == str(a[0])
    assert "its members with any channel's consent" in refused.value.detail

    # k + 10 consenting shoppers further away is far enough: the refusal was about the one.
    far = await version(session, [*EMAIL[: -K - 10], *NOTHING[:90]], released=False)
    await check(session).ensure_apart(*far, None, "far", await shown(session, far))


async def test_a_grant_after_the_release_does_not_move_the_members_its_reach_counted(
    session: AsyncSession,
) -> None:
    await shoppers(session)
    a = await version(session, [*EMAIL, *NOTHING], released=True)  # e-mail reach 149
    for p in NOTHING[:60]:  # 60 of A's members take e-mail after A was shown
        session.add(ProfileConsent(profile_id=p, purpose=Purpose.EMAIL, granted_at=utcnow()))
    await session.flush()

    # A's e-mail members as brands were shown them, minus one: 1 apart from what A's reach
    # counted, 61 from A's e-mail members now, and 61 from A as a whole.
    b = await version(session, [*EMAIL[1:], *NOTHING[60:]], released=False)
    with pytest.raises(TooSimilarAudienceError) as refused:
        await check(session).ensure_apart(*b, None, "B", await shown(session, b))
    assert refused.value.conflicts_with == str(a[0])
    assert "its members with email consent" in refused.value.detail


async def test_erasures_between_a_refresh_and_a_later_release_still_widen_the_filter(
    session: AsyncSession,
) -> None:
    """A draft refreshed days before it is published shows the numbers of its refresh; the
    shoppers erased in between are gone from its members all the same."""
    await shoppers(session)
    a = await version(session, [*EMAIL, *NOTHING], released=True, refreshed_ago=timedelta(days=3))
    await erase(session, NOTHING[:60], ago=timedelta(days=2))  # after its refresh, before release

    # A as erasures left it, minus one: 61 from the 299 A shows, one from its members now.
    b = await version(session, [*EMAIL, *NOTHING[60:-1]], released=False)
    with pytest.raises(TooSimilarAudienceError) as refused:
        await check(session).ensure_apart(*b, None, "B", await shown(session, b))
    assert refused.value.conflicts_with == str(a[0])
    assert refused.value.detail.startswith("B is too similar")  # its members as a whole


async def test_a_number_shown_at_the_minimum_is_compared_though_erasures_took_it_below(
    session: AsyncSession,
) -> None:
    """Brands see the consented size a refresh counted (149, at a minimum of 149), though an
    erasure since has taken the members behind it to 148."""
    await shoppers(session)
    a = await version(session, [*EMAIL, ONSITE_ONLY, *NOTHING[:60]], released=True)
    b = await version(session, [*EMAIL, *NOTHING[60:120]], released=False)
    await erase(session, [EMAIL[0]], ago=timedelta(0))
    numbers = await shown(session, b)
    assert numbers.consented_size == len(EMAIL) == 149

    at_149 = ReleaseCheck(MembershipRepository(session), k=K, minimum=149)
    with pytest.raises(TooSimilarAudienceError) as refused:
        await at_149.ensure_apart(*b, None, "B", numbers)
    assert refused.value.conflicts_with == str(a[0])
    assert "its members with any channel's consent" in refused.value.detail


async def test_a_consented_size_one_from_the_whole_size_of_a_version_from_before_0029_is_refused(
    session: AsyncSession,
) -> None:
    """Versions refreshed before migration 0029 have no consented size: brands were shown
    their whole size, and a later consented size is compared with that."""
    await shoppers(session)
    a = await version(session, [*EMAIL, ONSITE_ONLY], released=True)
    released = await session.get(AudienceVersion, a)
    assert released is not None
    released.consented_size = None  # as migration 0029 left it
    await session.flush()

    # 59 from A as a whole, the same e-mail members; its consented size (149) one from the
    # size A showed (150).
    b = await version(session, [*EMAIL, *NOTHING[:60]], released=False)
    with pytest.raises(TooSimilarAudienceError) as refused:
        await check(session).ensure_apart(*b, None, "B", await shown(session, b))
    assert refused.value.conflicts_with == str(a[0])
    assert "its members with any channel's consent" in refused.value.detail
