"""One transaction per request, committed at the boundary.

Services only ``flush``; the request's dependency commits when the handler
succeeded and rolls back when it raised, before the response is sent. The
transaction runs on the request's one connection (request_connection.py) when
authentication has checked one out already; a route marked reads-only
(reads_only.py) runs its queries on it in autocommit instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from litestar.datastructures import State
from litestar.types import Scope
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings
from endcap.db.engine import SessionFactory, create_engine, create_session_factory
from endcap.db.reads_only import READS_ONLY, ReadsOnlySession
from endcap.db.request_connection import request_connection_of

STATE_SESSION_FACTORY = "db_session_factory"


def session_factory_from(state: State) -> SessionFactory:
    factory: SessionFactory = state[STATE_SESSION_FACTORY]
    return factory


async def provide_session(state: State, scope: Scope) -> AsyncGenerator[AsyncSession]:
    shared = request_connection_of(scope)
    handler = scope.get("route_handler")
    options: dict[str, Any] = {}
    if handler is not None and handler.opt.get(READS_ONLY):
        options["sync_session_class"] = ReadsOnlySession
        connection = await shared.for_reads() if shared is not None else None
    else:
        connection = await shared.for_transaction() if shared is not None else None
    if connection is not None:
        options["bind"] = connection
    try:
        async with session_factory_from(state)(**options) as session, _committing(session):
            yield session
    finally:
        if shared is not None:  # the request's database work is done (unless kept)
            await shared.release()


@asynccontextmanager
async def standalone_session(settings: DatabaseSettings) -> AsyncGenerator[AsyncSession]:
    """A session with its own short-lived engine, for the CLI: commits on success."""
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session, _committing(session):
            yield session
    finally:
        await engine.dispose()


@asynccontextmanager
async def _committing(session: AsyncSession) -> AsyncGenerator[None]:
    """Commit what the block did, or roll it back when it raised."""
    try:
        yield
    except Exception:
        await session.rollback()
        raise
    await session.commit()
