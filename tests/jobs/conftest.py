"""Worker tests run on a database of their own: the shared test server's in-process
worker would otherwise claim their jobs (see tests/ingest/support.py)."""

from __future__ import annotations

import pytest

from endcap.config import DatabaseSettings, Settings
from endcap.db.engine import SessionFactory, create_session_factory
from tests.ingest.support import Db, db, template_url

__all__ = ["db", "template_url"]


@pytest.fixture
def sessions(db: Db) -> SessionFactory:
    return create_session_factory(db.engine)


@pytest.fixture
def settings(db: Db) -> Settings:
    chosen = Settings()
    chosen.database = DatabaseSettings(url=db.url)
    return chosen
