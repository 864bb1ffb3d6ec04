"""Migration 0031 gives each audience member the channel consent purposes its shopper
holds at the upgrade, as the bits the code reads (audiences/shown_consent.py): versions
refreshed before it kept no record of the consent at their refresh, and the difference
check compares the members behind each reach by these bits. A database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Uuid, bindparam

from endcap.audiences.shown_consent import PURPOSE_BITS
from endcap.consent.models import Purpose
from endcap.db import migrate
from tests.support.migrations import AT, add_audience, database_at, run

# Profile -> the purposes it holds at the upgrade (measurement is no channel's).
HELD = {
    1: (Purpose.EMAIL, Purpose.TARGETING_ONSITE),
    2: (Purpose.MEASUREMENT,),
    3: (),
    4: (Purpose.TARGETING_OFFSITE, Purpose.EMAIL, Purpose.TARGETING_ONSITE),
}


@pytest.fixture
def url_at_0030(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_at(backend, tmp_path, "0030") as url:
        yield url


def add_members(url: str, audience: uuid.UUID, version: int, profiles: list[int]) -> None:
    for profile in profiles:
        run(
            url,
            "INSERT INTO audience_members (audience_id, version, profile_id)"
            " VALUES (:audience, :version, :profile)",
            [bindparam("audience", type_=Uuid())],
            audience=audience,
            version=version,
            profile=profile,
        )


def test_each_member_takes_the_bits_of_the_purposes_its_shopper_holds(url_at_0030: str) -> None:
    for profile, purposes in HELD.items():
        run(
            url_at_0030,
            "INSERT INTO profiles (id, created_at) VALUES (:id, :at)",
            id=profile,
            at=AT,
        )
        for purpose in purposes:
            run(
                url_at_0030,
                "INSERT INTO profile_consents (profile_id, purpose, granted_at)"
                " VALUES (:id, :purpose, :at)",
                id=profile,
                purpose=purpose.value,
                at=AT,
            )
    audience = add_audience(url_at_0030, "published", current=2, versions=2)
    add_members(url_at_0030, audience, 1, [1, 2, 3])
    add_members(url_at_0030, audience, 2, [1, 3, 4])

    migrate.upgrade(url_at_0030, "0031")

    rows = run(url_at_0030, "SELECT version, profile_id, purposes_at_refresh FROM audience_members")
    expected = {
        (version, profile, sum(PURPOSE_BITS.get(p, 0) for p in HELD[profile]))
        for version, profiles in ((1, [1, 2, 3]), (2, [1, 3, 4]))
        for profile in profiles
    }
    assert {(int(v), int(p), int(b)) for v, p, b in rows} == expected
    # E-mail and on-site, nothing, everything: the bits the code reads, not stale ones.
    assert {p: b for v, p, b in expected if v == 2} == {1: 5, 3: 0, 4: 7}
    command.downgrade(migrate.alembic_config(url_at_0030), "0030")  # and back
    rows = run(url_at_0030, "SELECT * FROM audience_members")
    assert (len(rows), len(rows[0])) == (6, 3)  # every member kept, the bits gone
