"""The difference check over the members behind the consented size (any channel's
consent), and over what members held at their refresh rather than now. On the check
itself (audiences/release_check.py) with a small minimum, on the test database, in a
transaction rolled back after each test."""

from __future__ import annotations

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.membership import MembershipRepository
from endcap.audiences.models import AudienceVersion
from endcap.audiences.release_check import ReleaseCheck
from endcap.consent.models import ProfileConsent, Purpose
from endcap.db.types import utcnow
from endcap.privacy.channels import Channel
from endcap.privacy.difference import TooSimilarAudienceError
from tests.audiences.stamped import EMAIL, NOTHING, ONSITE_ONLY, shoppers, version

K, MINIMUM = 50, 100


def check(session: AsyncSession) -> ReleaseCheck:
    return ReleaseCheck(MembershipRepository(session), k=K, minimum=MINIMUM)


async def test_a_release_one_consenting_shopper_from_a_shown_consented_size_is_refused(
    session: AsyncSession,
) -> None:
    await shoppers(session)
    a = await version(session, [*EMAIL, ONSITE_ONLY, *NOTHING], released=True)
    shown = await session.get(AudienceVersion, a)
    assert shown is not None
    # Brands see A's consented size (150) and e-mail reach (149); its on-site reach of one
    # is under the minimum and shown to no one.
    assert (shown.size, shown.consented_size) == (300, 150)
    assert (shown.reach[Channel.EMAIL.value], shown.reach[Channel.ONSITE_DISPLAY.value]) == (149, 1)

    # A without the on-site shopper and 60 who consented to nothing: 61 from A as a whole,
    # the same e-mail members, and one from A's consenting members.
    b = await version(session, [*EMAIL, *NOTHING[:90]], released=False)
    with pytest.raises(TooSimilarAudienceError) as refused:
        await check(session).ensure_apart(*b, None, "B")
    assert refused.value.conflicts_with == str(a[0])
    assert "its members with any channel's consent" in refused.value.detail

    # k + 10 consenting shoppers further away is far enough: the refusal was about the one.
    far = await version(session, [*EMAIL[: -K - 10], *NOTHING[:90]], released=False)
    await check(session).ensure_apart(*far, None, "far")


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
        await check(session).ensure_apart(*b, None, "B")
    assert refused.value.conflicts_with == str(a[0])
    assert "its members with email consent" in refused.value.detail
