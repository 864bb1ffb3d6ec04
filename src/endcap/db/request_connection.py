"""One pool checkout for all of a request's statements.

Authentication, the idempotency claim, the handler's transaction and the recorded
answer each took a connection of their own: four checkouts for a booking, each with
the pool's ping (tests/perf/profile_booking). Now the first of them checks one out and
the others reuse it, switching between autocommit (single statements that commit
alone, as before) and a transaction (the handler's session), which costs no round trip.

A request never waits on its client while it holds the connection, or a slow client
could pin the pool: a small body (at most :data:`BODY_READ_FIRST` bytes, about what the
server buffers anyway) is read before anything checks out; a larger one is streamed as
before, and authentication gives its connection back before the body is read. The
connection goes back as soon as the request's database work is done, before the answer
is sent (``release``), unless the idempotency middleware keeps it to record the answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import HTTPRequestEvent
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from endcap.db.engine import locally_checked, unpinged

STATE_ENGINE = "db_engine"  # the app's engine, in its state
SCOPE_KEY = "endcap_request_connection"  # this request's RequestConnection, in scope["state"]
BODY_READ_FIRST = 64 * 1024  # uvicorn buffers this much of a body before pausing the client
AUTOCOMMIT = "AUTOCOMMIT"
T = TypeVar("T")


def engine_from(state: State) -> AsyncEngine:
    engine: AsyncEngine = state[STATE_ENGINE]
    return engine


class RequestConnection:
    """The connection a request's statements share, checked out when first needed."""

    def __init__(self, engine: AsyncEngine, *, body_read: bool) -> None:
        self.engine = engine
        # The whole body is in hand (or there is none): the request waits on its client no
        # more, so it may hold the connection from one statement to the next.
        self.body_read = body_read
        self._connection: AsyncConnection | None = None
        self._autocommit = False
        self._kept = False
        self._checked_out_before = False

    @property
    def checked_out(self) -> bool:
        return self._connection is not None

    @asynccontextmanager
    async def autocommit(self) -> AsyncGenerator[AsyncConnection]:
        """The connection outside any transaction: each statement commits on its own."""
        connection = await self._checkout()
        await _end_transaction_left(connection)
        if not self._autocommit:
            await connection.execution_options(isolation_level=AUTOCOMMIT)
            self._autocommit = True
        # SQLAlchemy's own bookkeeping, so the connection leaves here with no transaction
        # open; in autocommit nothing is sent for it.
        async with connection.begin():
            yield connection

    async def for_transaction(self) -> AsyncConnection | None:
        """The checked-out connection, ready for a transaction (the request's session); None
        when none may be checked out yet, and the session then takes one from the pool."""
        connection = await self._first_or_current()
        if connection is None:
            return None
        await _end_transaction_left(connection)
        if self._autocommit:
            level = self.engine.dialect.default_isolation_level
            await connection.execution_options(isolation_level=level)
            self._autocommit = False
        return connection

    async def for_reads(self) -> AsyncConnection | None:
        """The checked-out connection in autocommit, for a session that only reads (see
        reads_only.py); None when none may be checked out yet."""
        connection = await self._first_or_current()
        if connection is None:
            return None
        await _end_transaction_left(connection)
        if not self._autocommit:
            await connection.execution_options(isolation_level=AUTOCOMMIT)
            self._autocommit = True
        return connection

    async def first_read(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``read`` in autocommit: statements that only read, the request's first (the API
        key look-up). A first checkout skips the pool's ping, a round trip of its own on
        every request: the read itself shows the connection alive. One the server dropped
        while it sat in the pool fails the read as disconnected, before anything was done
        on it, and the read runs once more on a connection the pool has pinged."""
        if self._connection is None:
            try:
                with unpinged():
                    await self._checkout()
                async with self.autocommit() as connection:
                    return await read(connection)
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                await self._discard()
        async with self.autocommit() as connection:
            return await read(connection)

    def keep(self) -> None:
        """Hold the connection past the session's end, until ``release(kept=True)``."""
        self._kept = True

    async def release(self, *, kept: bool = False) -> None:
        """Give the connection back to the pool (one that was kept only when ``kept``)."""
        if self._kept and not kept:
            return
        self._kept = False
        await self._discard()  # a transaction still open is rolled back

    async def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _first_or_current(self) -> AsyncConnection | None:
        """The checked-out connection; or, when the request has checked none out yet (its API
        key was cached) and waits on its client no more, its first one."""
        if self._connection is None and self.body_read and not self._checked_out_before:
            return await self._checkout()
        return self._connection

    async def _checkout(self) -> AsyncConnection:
        if self._connection is None:
            if self._checked_out_before:
                self._connection = await self.engine.connect()
            else:
                # A request's first checkout: with a cached key, nothing before it checked
                # the connection (first_read skips the ping on its own, more thoroughly).
                self._checked_out_before = True
                with locally_checked():
                    self._connection = await self.engine.connect()
            self._autocommit = False
        return self._connection


async def _end_transaction_left(connection: AsyncConnection) -> None:
    """Roll back a transaction an earlier step left, as the pool does before lending a
    connection: only one that failed can be left (a COMMIT the database refused ends
    nothing in SQLAlchemy's books), so nothing of it could commit anyway."""
    if connection.get_transaction() is not None:
        await connection.rollback()


def request_connection_of(scope: Scope) -> RequestConnection | None:
    found: RequestConnection | None = scope.get("state", {}).get(SCOPE_KEY)
    return found


def request_connection_middleware(app: ASGIApp) -> ASGIApp:
    """Gives every HTTP request its :class:`RequestConnection`, after reading a small body."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        receive, body_read = await _read_small_body(scope, receive)
        shared = RequestConnection(engine_from(scope["app"].state), body_read=body_read)
        scope.setdefault("state", {})[SCOPE_KEY] = shared
        try:
            await app(scope, receive, send)
        finally:
            await shared.release(kept=True)

    return middleware


async def _read_small_body(scope: Scope, receive: Receive) -> tuple[Receive, bool]:
    """``receive`` with the body read already, and whether it is: a body larger than
    :data:`BODY_READ_FIRST` (or chunked) is left to stream."""
    headers = dict(scope["headers"])
    if b"transfer-encoding" in headers:
        return receive, False
    length = headers.get(b"content-length", b"0")
    if not length.isdigit() or int(length) > BODY_READ_FIRST:
        return receive, False
    if int(length) == 0:
        return receive, True
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left before the end
            break
        chunks.append(message["body"])
        if not message.get("more_body"):
            break
    complete = message["type"] == "http.request"
    read: HTTPRequestEvent = {
        "type": "http.request",
        "body": b"".join(chunks),
        "more_body": not complete,
    }
    messages: list[ReceiveMessage] = [read] if complete else [read, message]

    async def replay() -> ReceiveMessage:
        return messages.pop(0) if messages else await receive()

    return replay, True
