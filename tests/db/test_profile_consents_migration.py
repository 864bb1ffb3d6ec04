"""Migration 0016 fills profile_consents from the ledger that was there before: one row
per profile and purpose whose latest event, across the profile's records, is a grant
(a tie goes to the withdrawal). The test migrates a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command

from endcap.db import migrate
from tests.support.migrations import database_at, run

T0, T1, T2 = (datetime(2026, 1, day, 9, 30, tzinfo=UTC) for day in (1, 2, 3))

# (customer id, profile or None, [(purpose, status, recorded at)])
LEDGER: list[tuple[str, int | None, list[tuple[str, str, datetime]]]] = [
    # Profile 1: a later withdrawal on another record ends onsite; e-mail stays granted.
    ("c1a", 1, [("targeting_onsite", "granted", T1)]),
    ("c1b", 1, [("targeting_onsite", "withdrawn", T2), ("email", "granted", T1)]),
    # Profile 2: a tie goes to the withdrawal; a grant after a withdrawal counts.
    (
        "c2",
        2,
        [
            ("targeting_onsite", "granted", T1),
            ("targeting_onsite", "withdrawn", T1),
            ("measurement", "granted", T0),
            ("measurement", "withdrawn", T1),
            ("measurement", "granted", T2),
        ],
    ),
    # Profile 3: a grant on one record after a withdrawal on the other.
    ("c3a", 3, [("targeting_onsite", "withdrawn", T1)]),
    ("c3b", 3, [("targeting_onsite", "granted", T2)]),
    ("c4", 4, []),  # never asked
    ("c5", None, [("targeting_onsite", "granted", T1)]),  # not resolved into a profile yet
]
EXPECTED = {(1, "email", T1), (2, "measurement", T2), (3, "targeting_onsite", T2)}


@pytest.fixture
def url_at_0015(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_at(backend, tmp_path, "0015") as url:
        yield url


def utc(value: object) -> datetime:
    # Read back through plain SQL, SQLite gives the naive UTC text it stores.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def seed(url: str) -> None:
    for profile in sorted({p for _, p, _ in LEDGER if p is not None}):
        run(url, "INSERT INTO profiles (id, created_at) VALUES (:id, :at)", id=profile, at=T0)
    for n, (customer, profile, events) in enumerate(LEDGER, start=1):
        run(
            url,
            "INSERT INTO customers (id, customer_id, profile_id, attributes, updated_at)"
            " VALUES (:id, :customer, :profile, '{}', :at)",
            id=n,
            customer=customer,
            profile=profile,
            at=T0,
        )
        for purpose, status, at in events:
            run(
                url,
                "INSERT INTO consent_events (customer_ref, purpose, status, recorded_at,"
                " created_at) VALUES (:ref, :purpose, :status, :at, :at)",
                ref=n,
                purpose=purpose,
                status=status,
                at=at,
            )


def test_the_upgrade_fills_the_state_from_the_ledger_and_the_downgrade_drops_it(
    url_at_0015: str,
) -> None:
    url = url_at_0015
    seed(url)

    migrate.upgrade(url, "0016")
    filled = run(url, "SELECT profile_id, purpose, granted_at FROM profile_consents")
    command.downgrade(migrate.alembic_config(url), "0015")
    tables = run(url, "SELECT count(*) FROM consent_events")

    assert {(p, purpose, utc(at)) for p, purpose, at in filled} == EXPECTED
    assert tables == [(11,)]  # the ledger itself is never touched
    with pytest.raises(Exception, match="profile_consents"):
        run(url, "SELECT * FROM profile_consents")
