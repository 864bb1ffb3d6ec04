"""A test that commits from two connections at once needs a database of its own: the
shared test session is one rolled-back transaction that no other connection sees."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from endcap.config import DatabaseSettings, Settings
from endcap.db.engine import SessionFactory, create_engine, create_session_factory
from tests.support import databases


def own_database(prefix: str) -> tuple[Any, Any]:
    """The fixtures ``settings`` (on a fresh migrated database named after ``prefix``,
    dropped afterwards) and ``sessions`` (a session factory on it), per test:
    ``settings, sessions = own_database("endcap_test_…")`` in the module."""

    @pytest.fixture
    def settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
        with databases.migrated_database(backend, lambda: tmp_path, prefix) as url:
            chosen = Settings()
            chosen.database = DatabaseSettings(url=url)
            yield chosen

    @pytest.fixture
    async def sessions(settings: Settings) -> AsyncIterator[SessionFactory]:
        engine = create_engine(settings.database)
        yield create_session_factory(engine)
        await engine.dispose()

    return settings, sessions
