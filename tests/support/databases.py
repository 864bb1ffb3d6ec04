"""Throwaway databases: a fresh PostgreSQL database, or a SQLite file, migrated by Alembic."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import asyncpg

from endcap.db import migrate

# The server these machines run; override to point the tests elsewhere.
POSTGRES_ADMIN_URL = os.environ.get(
    "ENDCAP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_reachable(url: str = POSTGRES_ADMIN_URL, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 5432), timeout
        ):
            pass
    except OSError:
        return False
    try:
        asyncio.run(execute(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError):
        return False
    return True


async def execute(url: str, sql: str) -> None:
    """Run ``sql`` (one or more statements) on the PostgreSQL database at ``url`` (an
    asyncpg or SQLAlchemy URL), on a connection of its own."""
    connection = await asyncpg.connect(
        url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=5
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def run_sql(url: str, sql: str) -> None:
    """Run ``sql`` (one or more statements) on the PostgreSQL database at ``url``."""
    asyncio.run(execute(url, sql))


def create_postgres_database(prefix: str = "endcap_test") -> str:
    """Create an empty database and return its asyncpg URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(execute(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    parsed = urlparse(POSTGRES_ADMIN_URL)
    return parsed._replace(scheme="postgresql+asyncpg", path=f"/{name}").geturl()


def drop_postgres_database(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    asyncio.run(execute(POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(folder: Path, name: str = "endcap.db") -> str:
    return f"sqlite+aiosqlite:///{folder / name}"


@contextlib.contextmanager
def migrated_database(backend: str, folder: Callable[[], Path], prefix: str) -> Iterator[str]:
    """A database of its own, migrated to head by Alembic, dropped afterwards: on PostgreSQL a
    fresh one named after ``prefix``; on SQLite a file in ``folder()``."""
    if backend == "postgres":
        url = create_postgres_database(prefix)
        try:
            migrate.upgrade(url)
            yield url
        finally:
            drop_postgres_database(url)
    else:
        url = sqlite_url(folder())
        migrate.upgrade(url)
        yield url
