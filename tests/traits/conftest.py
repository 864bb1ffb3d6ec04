"""Fixtures the trait tests share."""

from __future__ import annotations

import pytest

from endcap.config import DatabaseSettings, Settings


@pytest.fixture
def settings(database_settings: DatabaseSettings) -> Settings:
    """The defaults, on the test database (the ingest service reads its chunk sizes)."""
    chosen = Settings()
    chosen.database = database_settings
    return chosen
