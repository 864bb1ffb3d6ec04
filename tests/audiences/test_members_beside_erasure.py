"""An audience version written while a shopper is erased: the erasure deletes the members
it can see, so one that committed while a refresh's rows were still uncommitted left its
shopper in the version. Writing members now holds erasures off until the commit
(audiences/membership.py ``store_members``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, literal, select

from endcap.audiences.membership import MEMBERS, MembershipRepository
from endcap.audiences.models import Audience, AudienceKind
from endcap.config import DatabaseSettings, Settings
from endcap.db.engine import SessionFactory, create_engine, create_session_factory
from endcap.identity.repository import IdentityRepository
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest
from tests.support import databases
from tests.support.retailer import load_tiny


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """A database of this test's own: the erasure commits from a second connection."""
    with databases.migrated_database(backend, lambda: tmp_path, "endcap_test_member_race") as url:
        chosen = Settings()
        chosen.database = DatabaseSettings(url=url)
        yield chosen


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[SessionFactory]:
    engine = create_engine(settings.database)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.mark.postgres
async def test_an_erasure_during_a_refresh_leaves_no_member_behind(
    settings: Settings, sessions: SessionFactory, tmp_path: Path
) -> None:
    async with sessions() as session:
        shop = await load_tiny(session, settings, tmp_path)
        audience = Audience(name=f"race {shop.tag}", kind=AudienceKind.LOOKALIKE, spec={})
        session.add(audience)
        await session.commit()
        customer = await IdentityRepository(session).customer(shop.id("c3"))
        assert customer is not None
        assert customer.profile_id is not None
        shopper = customer.profile_id

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
