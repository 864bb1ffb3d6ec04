"""A reads-only route's session runs outside a transaction, so it must refuse every write."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.reads_only import ReadsOnlySession
from endcap.partners.models import Partner, PartnerKind


async def test_a_reads_only_session_reads_and_refuses_writes(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        async with AsyncSession(bind=autocommit, sync_session_class=ReadsOnlySession) as session:
            before = len((await session.exec(select(Partner))).all())

            with pytest.raises(RuntimeError, match="may not run UPDATE"):
                await session.execute(update(Partner).values(name="changed"))
            session.add(Partner(name="Never stored", kind=PartnerKind.AGENCY))
            with pytest.raises(RuntimeError, match="may not write"):
                await session.flush()
            await session.rollback()

            assert len((await session.exec(select(Partner))).all()) == before
