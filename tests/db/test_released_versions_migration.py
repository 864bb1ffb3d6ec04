"""Migration 0023 marks as released (shown to brands) the current version of each published
audience and every version a campaign pinned; nothing else. Each test migrates a database
of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Uuid, bindparam

from endcap.db import migrate
from tests.support.migrations import add_audience, add_campaign, add_partner, database_at
from tests.support.migrations import run as run_statement

IDS = ("partner", "audience", "campaign")


@pytest.fixture
def url_at_0022(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_at(backend, tmp_path, "0022") as url:
        yield url


def run(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    typed = [bindparam(name, type_=Uuid()) for name in IDS if name in params]
    return run_statement(url, sql, typed, **params)


def pin(url: str, audience_id: uuid.UUID, version: int) -> None:
    campaign = add_campaign(url, add_partner(url), "submitted")
    run(
        url,
        "INSERT INTO campaign_audiences (campaign_id, position, audience_id, audience_version)"
        " VALUES (:campaign, 0, :audience, :version)",
        campaign=campaign,
        audience=audience_id,
        version=version,
    )


def released(url: str) -> set[tuple[str, int]]:
    rows = run(
        url, "SELECT audience_id, version FROM audience_versions WHERE released_at IS NOT NULL"
    )
    return {(uuid.UUID(str(a)).hex, int(v)) for a, v in rows}


def test_published_current_versions_and_pinned_versions_are_released(url_at_0022: str) -> None:
    published = add_audience(url_at_0022, "published", current=2, versions=2)
    deleted_pinned = add_audience(url_at_0022, "deleted", current=3, versions=3)
    pin(url_at_0022, deleted_pinned, 2)
    draft = add_audience(url_at_0022, "draft", current=1, versions=1)
    deleted = add_audience(url_at_0022, "deleted", current=1, versions=1)

    migrate.upgrade(url_at_0022, "0023")

    assert released(url_at_0022) == {(published.hex, 2), (deleted_pinned.hex, 2)}
    assert draft.hex not in {a for a, _ in released(url_at_0022)}
    assert deleted.hex not in {a for a, _ in released(url_at_0022)}
    command.downgrade(migrate.alembic_config(url_at_0022), "0022")  # and back
    rows = run(url_at_0022, "SELECT * FROM audience_versions")
    assert (len(rows), len(rows[0])) == (7, 6)  # every version kept, released_at gone
