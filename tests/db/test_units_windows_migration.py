"""Migration 0018 adds units over 4 and 13 weeks to the spend rows as 0 and marks their
profiles stale, so that the next trait refresh recomputes them (the test migrates a
database of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command

from endcap.db import migrate
from tests.support.migrations import database_at, run

T0 = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def url_at_0017(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_at(backend, tmp_path, "0017") as url:
        yield url


def test_units_start_at_zero_and_their_profiles_are_marked_for_the_next_refresh(
    url_at_0017: str, backend: str
) -> None:
    url = url_at_0017
    for profile in (1, 2, 3):
        run(url, "INSERT INTO profiles (id, created_at) VALUES (:id, :at)", id=profile, at=T0)
    for profile, level, key in ((1, "category", "Milk"), (1, "brand", "7"), (2, "category", "Tea")):
        run(
            url,
            "INSERT INTO profile_spend (profile_id, level, key, spend_4w, spend_13w, spend_52w,"
            " units_52w, last_purchase_at) VALUES (:p, :level, :key, 1, 2, 3, 4, :at)",
            p=profile,
            level=level,
            key=key,
            at=T0,
        )
    # Profile 2 was already marked by a load; profile 3 has no spend rows.
    run(url, "INSERT INTO stale_profiles (profile_id, marked_at) VALUES (2, :at)", at=T0)

    migrate.upgrade(url, "0018")

    rows = run(
        url,
        "SELECT profile_id, key, units_4w, units_13w, units_52w FROM profile_spend"
        " ORDER BY profile_id, key",
    )
    assert [(p, k, float(u4), float(u13), float(u52)) for p, k, u4, u13, u52 in rows] == [
        (1, "7", 0.0, 0.0, 4.0),
        (1, "Milk", 0.0, 0.0, 4.0),
        (2, "Tea", 0.0, 0.0, 4.0),
    ]
    marked = run(url, "SELECT profile_id, marked_at FROM stale_profiles ORDER BY profile_id")
    assert [p for p, _ in marked] == [1, 2]
    if backend == "postgres":
        key = run(url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_profile_spend'")
        assert key[0][0].endswith(
            "INCLUDE (spend_4w, spend_13w, spend_52w, units_4w, units_13w, units_52w)"
        )

    command.downgrade(migrate.alembic_config(url), "0017")

    left = run(url, "SELECT * FROM profile_spend ORDER BY key")
    assert [(row[0], row[2]) for row in left] == [(1, "7"), (1, "Milk"), (2, "Tea")]
    assert {len(row) for row in left} == {8}  # units_4w and units_13w are gone
    if backend == "postgres":
        key = run(url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_profile_spend'")
        assert key[0][0].endswith("INCLUDE (spend_4w, spend_13w, spend_52w)")
