"""An audience version written while a shopper is erased: the erasure deletes the members
it can see, so one that committed while a refresh's rows were still uncommitted left its
shopper in the version. Writing members now holds erasures off until the commit
(audiences/membership.py ``store_members``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, literal, select

from endcap.audiences.membership import MEMBERS, MembershipRepository
from endcap.audiences.models import Audience, AudienceKind
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest
from tests.support.own_database import own_database
from tests.support.retailer import load_tiny, profile_of

settings, sessions = own_database("endcap_test_member_race")


@pytest.mark.postgres
async def test_an_erasure_during_a_refresh_leaves_no_member_behind(
    settings: Settings, sessions: SessionFactory, tmp_path: Path
) -> None:
    async with sessions() as session:
        shop = await load_tiny(session, settings, tmp_path)
        audience = Audience(name=f"race {shop.tag}", kind=AudienceKind.LOOKALIKE, spec={})
        session.add(audience)
        await session.commit()
        shopper = await profile_of(session, shop.id("c3"))

    async def erase() -> None:
        async with sessions() as other:
            await ErasureService(other, settings).erase(
                ErasureRequest(customer_id=shop.id("c3")), requested_by=None
            )
            await other.commit()

    async with sessions() as refreshing:
        members = MembershipRepository(refreshing)
        assert await members.store_members(audience.id, 1, select(literal(shopper))) == 1
        erasing = asyncio.create_task(erase())
        await asyncio.sleep(0.5)
        assert not erasing.done()  # it waits for the version to be committed
        await refreshing.commit()
    await asyncio.wait_for(erasing, timeout=30)

    async with sessions() as session:
        query = select(func.count()).select_from(MEMBERS).where(MEMBERS.c.profile_id == shopper)
        assert (await session.execute(query)).scalar_one() == 0
        # A version written after the erasure leaves out an id read before it.
        assert (
            await MembershipRepository(session).store_members(
                audience.id, 2, select(literal(shopper))
            )
            == 0
        )
