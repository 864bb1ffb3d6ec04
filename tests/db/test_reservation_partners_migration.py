"""Migration 0030 gives each capacity reservation its campaign's brand, which a brand's
view of a week is rounded around (privacy/sizes.brand_left). A database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Date, Uuid, bindparam

from endcap.db import migrate
from tests.support.migrations import add_campaign, add_partner, database_at
from tests.support.migrations import run as run_statement

IDS = ("partner", "campaign")


@pytest.fixture
def url_at_0029(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_at(backend, tmp_path, "0029") as url:
        yield url


def run(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    typed = [bindparam(name, type_=Uuid()) for name in IDS if name in params]
    if "week" in params:
        typed.append(bindparam("week", type_=Date()))
    return run_statement(url, sql, typed, **params)


def booked_campaign(url: str, weeks: int) -> tuple[uuid.UUID, uuid.UUID]:
    partner = add_partner(url)
    campaign = add_campaign(url, partner, "booked")
    for week in range(weeks):
        run(
            url,
            "INSERT INTO capacity_reservations (campaign_id, channel, week_start, impressions)"
            " VALUES (:campaign, 'email', :week, 500)",
            campaign=campaign,
            week=date(2026, 7, 6) + timedelta(weeks=week),
        )
    return partner, campaign


def test_each_reservation_takes_its_campaigns_brand(url_at_0029: str) -> None:
    first = booked_campaign(url_at_0029, weeks=2)
    second = booked_campaign(url_at_0029, weeks=1)

    migrate.upgrade(url_at_0029, "0030")

    rows = run(
        url_at_0029, "SELECT partner_id, campaign_id, impressions FROM capacity_reservations"
    )
    found = sorted((uuid.UUID(str(p)), uuid.UUID(str(c)), int(n)) for p, c, n in rows)
    assert found == sorted([(*first, 500), (*first, 500), (*second, 500)])
    command.downgrade(migrate.alembic_config(url_at_0029), "0029")  # and back
    rows = run(url_at_0029, "SELECT * FROM capacity_reservations")
    assert (len(rows), len(rows[0])) == (3, 4)  # every hold kept, partner_id gone
