"""The engine lends only live connections: one PostgreSQL has dropped is replaced first."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from endcap.config import DatabaseSettings
from endcap.db.engine import create_engine
from tests.support import databases


@pytest.mark.postgres  # a SQLite file has no server to drop a connection
async def test_a_connection_the_server_dropped_is_replaced_before_use(
    database_settings: DatabaseSettings,
) -> None:
    engine = create_engine(database_settings)
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # Back in the pool, idle: the server ends it (a restart or an idle timeout would too).
        await databases.execute(database_settings.url, f"SELECT pg_terminate_backend({int(first)})")
        async with engine.connect() as connection:
            second = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
