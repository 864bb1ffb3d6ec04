"""The SQL SHA-256 the suppression list is matched with is Python's, on both databases."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import literal, select

from endcap.config import DatabaseSettings
from endcap.db.engine import create_engine
from endcap.db.hashing import Sha256Hex, enable_sha256


@pytest.mark.parametrize("text", ["C514736317", "Åsa-öl 42", "", "x" * 300])
async def test_sql_sha256_is_pythons(database_settings: DatabaseSettings, text: str) -> None:
    engine = create_engine(database_settings)
    try:
        async with engine.connect() as connection:
            await enable_sha256(connection)
            found = await connection.scalar(select(Sha256Hex(literal(text))))
            nothing = await connection.scalar(select(Sha256Hex(literal(None))))
    finally:
        await engine.dispose()
    assert found == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert nothing is None
