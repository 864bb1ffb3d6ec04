"""Alembic is the only schema source: the migrated schema equals the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from endcap.db import migrate
from endcap.db.base import load_models


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, load_models()))


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrated_schema_equals_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == []


async def test_database_is_at_the_single_head(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        current = await connection.run_sync(_revision)
    assert current is not None
    assert current == migrate.head_revision()


def test_upgrade_is_repeatable(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)

    async def state() -> tuple[str | None, list[object]]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_revision), await connection.run_sync(_diff)
        finally:
            await engine.dispose()

    revision, diff = asyncio.run(state())  # a sync test: no loop is running here
    assert revision == migrate.head_revision()
    assert diff == []
