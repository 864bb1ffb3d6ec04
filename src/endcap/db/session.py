"""One transaction per request, committed at the boundary.

Services only ``flush``; the request's dependency commits when the handler
succeeded and rolls back when it raised, before the response is sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings
from endcap.db.engine import SessionFactory, create_engine, create_session_factory

STATE_ENGINE = "db_engine"
STATE_SESSION_FACTORY = "db_session_factory"
STATE_READ_ENGINE = "db_read_engine"


def session_factory_from(state: State) -> SessionFactory:
    factory: SessionFactory = state[STATE_SESSION_FACTORY]
    return factory


def read_engine_from(state: State) -> AsyncEngine:
    """The engine in autocommit mode, for single statements outside the request's
    transaction (the API key look-up, idempotency records): one round trip each, no
    BEGIN and COMMIT, and no ORM session around them."""
    engine: AsyncEngine = state[STATE_READ_ENGINE]
    return engine


async def provide_session(state: State) -> AsyncGenerator[AsyncSession]:
    async with session_factory_from(state)() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        await session.commit()


@asynccontextmanager
async def standalone_session(settings: DatabaseSettings) -> AsyncGenerator[AsyncSession]:
    """A session with its own short-lived engine, for the CLI: commits on success."""
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            try:
                yield session
            except Exception:
                await session.rollback()
                raise
            await session.commit()
    finally:
        await engine.dispose()
