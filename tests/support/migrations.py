"""For the tests of one migration: a database of its own at the revision before it, and
single statements run on it in transactions of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import BindParameter, DateTime, bindparam, text
from sqlalchemy.ext.asyncio import create_async_engine

from endcap.db import migrate
from tests.support import databases


@contextmanager
def database_at(backend: str, tmp_path: Path, revision: str) -> Iterator[str]:
    """The URL of a new database migrated up to ``revision``, dropped afterwards."""
    if backend == "postgres":
        url = databases.create_postgres_database(f"endcap_test_at_{revision}")
        try:
            migrate.upgrade(url, revision)
            yield url
        finally:
            databases.drop_postgres_database(url)
    else:
        url = databases.sqlite_url(tmp_path)
        migrate.upgrade(url, revision)
        yield url


def run(
    url: str, sql: str, typed: Sequence[BindParameter[Any]] = (), **params: Any
) -> list[tuple[Any, ...]]:
    """One statement in its own transaction; its rows. ``at`` is bound as a timestamp on
    both backends, and ``typed`` as they say."""
    bound = list(typed)
    if "at" in params:
        bound.append(bindparam("at", type_=DateTime(timezone=True)))
    statement = text(sql).bindparams(*bound) if bound else text(sql)

    async def go() -> list[tuple[Any, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(statement, params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(go())
