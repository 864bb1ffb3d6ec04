"""One transaction per request, committed at the boundary.

Services only ``flush``; the request's dependency commits when the handler
succeeded and rolls back when it raised, before the response is sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar.datastructures import State
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings
from endcap.db.engine import SessionFactory, create_engine, create_session_factory

STATE_ENGINE = "db_engine"
STATE_SESSION_FACTORY = "db_session_factory"
STATE_READ_SESSION_FACTORY = "db_read_session_factory"


def session_factory_from(state: State) -> SessionFactory:
    factory: SessionFactory = state[STATE_SESSION_FACTORY]
    return factory


def read_session_factory_from(state: State) -> SessionFactory:
    """Sessions for single reads outside the request's transaction (e.g. the API key
    look-up): autocommit, so a read costs one round trip instead of three."""
    factory: SessionFactory = state[STATE_READ_SESSION_FACTORY]
    return factory


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
