"""Creating the async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings

SessionFactory = async_sessionmaker[AsyncSession]

# How a checkout checks its connection: "ping" (a round trip), "none" (its first statement
# checks the connection instead) or "local" (asyncpg's own view, no round trip).
_CHECK: ContextVar[str] = ContextVar("endcap_checkout_check", default="ping")


def create_engine(settings: DatabaseSettings, *, jit: bool = False) -> AsyncEngine:
    """An engine whose connection attempts give up after ``connect_timeout`` seconds.

    PostgreSQL's JIT compiles each new plan before running it: for an audience
    estimate at a million profiles that was 0.6-1.2 s of a 1.1-1.4 s query
    (tests/perf/bench_estimate). It is off unless asked for (the job worker asks:
    its aggregations run for minutes and can win the compile time back).
    """
    kwargs: dict[str, Any] = {"echo": settings.echo, "pool_pre_ping": True}
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": settings.connect_timeout}
    else:
        kwargs.update(
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            connect_args={
                "timeout": settings.connect_timeout,
                "server_settings": {"application_name": "endcap", "jit": "on" if jit else "off"},
            },
        )
    engine = create_async_engine(settings.url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine.sync_engine.dialect.do_ping = _ping_once  # type: ignore[method-assign]
    return engine


@contextmanager
def unpinged() -> Iterator[None]:
    """Checkouts in this block skip the pool's ping. Only for a caller whose first statement
    only reads and is run again on a pinged connection when it fails as disconnected
    (request_connection.RequestConnection.first_read): a dead connection is then
    replaced before anything is written on it, as the ping would have."""
    token = _CHECK.set("none")
    try:
        yield
    finally:
        _CHECK.reset(token)


@contextmanager
def locally_checked() -> Iterator[None]:
    """Checkouts in this block skip the ping's round trip and replace a connection asyncpg
    knows closed (the server ended it, or it went away, while it sat in the pool: asyncpg
    reads an idle connection too). For a request's first checkout, when a cached API key
    left it no look-up to check the connection with (request_connection.py). Like the
    ping itself, it cannot see a connection that died without a word; its first statement
    then fails, as it would have after a ping a moment earlier."""
    token = _CHECK.set("local")
    try:
        yield
    finally:
        _CHECK.reset(token)


def _ping_once(dbapi_connection: Any) -> bool:
    """The pool's check of a connection before lending it, in one round trip (none in an
    :func:`unpinged` block).

    SQLAlchemy's asyncpg ping wraps its empty statement in BEGIN and ROLLBACK (for
    PgBouncer's transaction mode, which Endcap does not run behind): three round
    trips on every checkout, about half of a booking's (tests/perf/bench_booking).
    A failure is translated as SQLAlchemy's own ping does, so a dead connection is
    still replaced before the request uses it.
    """
    check = _CHECK.get()
    if check == "none":
        return True
    if check == "local":
        return not dbapi_connection.driver_connection.is_closed()
    try:
        dbapi_connection.await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as error:  # noqa: BLE001  (translated to the DBAPI's errors)
        dbapi_connection._handle_exception(error)
    return True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite leaves foreign keys off by default; WAL lets the demo's readers
    # and writer work side by side.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # Objects stay readable after commit: handlers serialise them after the
    # transaction has ended.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


__all__ = ["AsyncSession", "SessionFactory", "create_engine", "create_session_factory"]
