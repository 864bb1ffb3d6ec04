"""Migration 0030 gives each capacity reservation its campaign's brand, which a brand's
view of a week is rounded around (privacy/sizes.brand_left). A database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Date, Uuid, bindparam

from endcap.db import migrate
from tests.support.migrations import database_at
from tests.support.migrations import run as run_statement

AT = datetime(2026, 1, 1, tzinfo=UTC)
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
    partner, campaign = uuid.uuid4(), uuid.uuid4()
    run(
        url,
        "INSERT INTO partners (id, name, kind, created_at)"
        " VALUES (:partner, :name, 'manufacturer', :at)",
        partner=partner,
        name=f"P {partner.hex[:8]}",
        at=AT,
    )
    run(
        url,
        "INSERT INTO campaigns (id, partner_id, name, channels, skus, creative, starts_on,"
        " ends_on, budget, currency, frequency_cap, holdout_share, post_click_days,"
        " post_view_days, status, revision, created_at, updated_at) VALUES (:campaign,"
        " :partner, :name, '[\"email\"]', '[]', '{}', '2026-07-06', '2026-07-19', 100, 'SEK',"
        " 1, 0.1, 14, 1, 'booked', 1, :at, :at)",
        campaign=campaign,
        partner=partner,
        name=f"C {campaign.hex[:8]}",
        at=AT,
    )
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
