"""Migration 0014 moves each campaign's one audience (and its pinned version) into
campaign_audiences, and back again on a downgrade; a downgrade that would lose an
audience is refused. Each test migrates a database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Uuid, bindparam

from endcap.db import migrate
from tests.support.migrations import add_partner, database_at
from tests.support.migrations import run as run_statement

AT = datetime(2026, 1, 1, tzinfo=UTC)
IDS = ("partner", "audience", "other", "campaign")


@pytest.fixture
def url_at_0013(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_at(backend, tmp_path, "0013") as url:
        yield url


def run(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """One statement in its own transaction; ids and times bound as such on both backends."""
    typed = [bindparam(name, type_=Uuid()) for name in IDS if name in params]
    return run_statement(url, sql, typed, **params)


def as_uuid(value: object) -> uuid.UUID:
    # Read back through plain SQL, SQLite gives the 32 hex digits it stores.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def seed(url: str, versions: dict[uuid.UUID, int | None]) -> tuple[uuid.UUID, uuid.UUID]:
    """A partner, an audience and one campaign per key of ``versions`` (its pinned version)."""
    partner, audience = add_partner(url), uuid.uuid4()
    run(
        url,
        "INSERT INTO audiences (id, name, description, kind, status, currency, revision,"
        " created_at, updated_at)"
        " VALUES (:audience, :name, '', 'rule', 'published', 'SEK', 1, :at, :at)",
        audience=audience,
        name=f"A {audience.hex[:8]}",
        at=AT,
    )
    for campaign, version in versions.items():
        run(
            url,
            "INSERT INTO campaigns (id, partner_id, name, audience_id, audience_version,"
            " channels, skus, creative, starts_on, ends_on, budget, currency, frequency_cap,"
            " holdout_share, post_click_days, post_view_days, status, revision, created_at,"
            " updated_at) VALUES (:campaign, :partner, :name, :audience, :version,"
            " '[\"email\"]', '[]', '{}', '2026-07-06', '2026-07-19', 100, 'SEK', 1, 0.1, 14, 1,"
            " :status, 1, :at, :at)",
            campaign=campaign,
            partner=partner,
            audience=audience,
            name=f"C {campaign.hex[:8]}",
            version=version,
            status="draft" if version is None else "submitted",
            at=AT,
        )
    return partner, audience


def test_each_campaigns_audience_moves_over_and_back(url_at_0013: str) -> None:
    url = url_at_0013
    booked, draft = uuid.uuid4(), uuid.uuid4()
    _, audience = seed(url, {booked: 3, draft: None})

    migrate.upgrade(url, "0014")
    moved = run(
        url, "SELECT campaign_id, position, audience_id, audience_version FROM campaign_audiences"
    )
    command.downgrade(migrate.alembic_config(url), "0013")
    back = run(url, "SELECT id, audience_id, audience_version FROM campaigns")

    assert {(as_uuid(c), p, as_uuid(a), v) for c, p, a, v in moved} == {
        (booked, 0, audience, 3),
        (draft, 0, audience, None),
    }
    assert {(as_uuid(c), as_uuid(a), v) for c, a, v in back} == {
        (booked, audience, 3),
        (draft, audience, None),
    }


def test_a_downgrade_that_would_drop_an_audience_is_refused(url_at_0013: str) -> None:
    url = url_at_0013
    campaign = uuid.uuid4()
    seed(url, {campaign: None})
    migrate.upgrade(url, "0014")
    _, other = seed(url, {})
    run(
        url,
        "INSERT INTO campaign_audiences (campaign_id, position, audience_id)"
        " VALUES (:campaign, 1, :other)",
        campaign=campaign,
        other=other,
    )
    with pytest.raises(RuntimeError, match="more than one audience"):
        command.downgrade(migrate.alembic_config(url), "0013")
    assert len(run(url, "SELECT * FROM campaign_audiences")) == 2
