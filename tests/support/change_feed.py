"""Driving PostgreSQL by hand next to servers whose caches follow its NOTIFYs
(src/endcap/db/change_feed.py): statements run outside any server, with or without the
triggers, and the bound within which every process must have heard of a change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from endcap.config import AuthSettings
from endcap.db.change_feed import APPLICATION_NAME

FRESH_FOR = AuthSettings().key_cache_fresh_for  # the test servers run with the defaults


def sql(url: str, *statements: str, **params: object) -> list[tuple[object, ...]]:
    """``statements`` in one transaction, each given the ``params`` it names; the last
    one's rows."""

    async def go() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                rows: list[tuple[object, ...]] = []
                for statement in statements:
                    named = {k: v for k, v in params.items() if f":{k}" in statement}
                    result = await connection.execute(text(statement), named)
                    rows = [tuple(r) for r in result] if result.returns_rows else []
                return rows
        finally:
            await engine.dispose()

    return asyncio.run(go())


def behind_the_triggers(url: str, statement: str, **params: object) -> None:
    """``statement`` with the triggers off for its transaction (as a replica would apply
    it): no process hears of it. Only to show what a process serves from its cache."""
    sql(url, "SET LOCAL session_replication_role = replica", statement, **params)


def listeners(url: str) -> int:
    """Server processes listening for changes on the database."""
    rows = sql(
        url,
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = :app",
        app=APPLICATION_NAME,
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def wait_for_listeners(url: str, count: int, timeout: float = 15.0) -> None:
    """Until ``count`` processes listen, and each has had a heartbeat answered."""
    deadline = time.monotonic() + timeout
    while listeners(url) != count:
        assert time.monotonic() < deadline, f"expected {count} listening processes"
        time.sleep(0.05)
    time.sleep(FRESH_FOR)


def within_the_bound(check: Callable[[], bool]) -> float:
    """Seconds until ``check`` holds, failing past the bound by which every process must
    know a committed change (a notification is usually there in milliseconds)."""
    started = time.monotonic()
    while not check():
        waited = time.monotonic() - started
        assert waited < FRESH_FOR + 0.5, f"still not true after {waited:.2f} s"
        time.sleep(0.01)
    return time.monotonic() - started
