"""For the tests of one migration: a database of its own at the revision before it, and
single statements run on it in transactions of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BindParameter, DateTime, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import create_async_engine

from endcap.db import migrate
from tests.support import databases

AT = datetime(2026, 1, 1, tzinfo=UTC)  # when the rows a migration test writes were made


@contextmanager
def database_at(backend: str, tmp_path: Path, revision: str) -> Iterator[str]:
    """The URL of a new database migrated up to ``revision``, dropped afterwards."""
    if backend == "postgres":
        url = databases.create_postgres_database(f"endcap_test_at_{revision}")
        try:
            migrate.upgrade(url, revision)
            yield url
        finally:
            databases.drop_postgres_database(url)
    else:
        url = databases.sqlite_url(tmp_path)
        migrate.upgrade(url, revision)
        yield url


def run(
    url: str, sql: str, typed: Sequence[BindParameter[Any]] = (), **params: Any
) -> list[tuple[Any, ...]]:
    """One statement in its own transaction; its rows. ``at`` is bound as a timestamp on
    both backends, and ``typed`` as they say."""
    bound = list(typed)
    if "at" in params:
        bound.append(bindparam("at", type_=DateTime(timezone=True)))
    statement = text(sql).bindparams(*bound) if bound else text(sql)

    async def go() -> list[tuple[Any, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(statement, params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(go())


def add_partner(url: str) -> uuid.UUID:
    """A brand partner, as the tables have had it since migration 0001."""
    partner = uuid.uuid4()
    run(
        url,
        "INSERT INTO partners (id, name, kind, created_at)"
        " VALUES (:partner, :name, 'manufacturer', :at)",
        [bindparam("partner", type_=Uuid())],
        partner=partner,
        name=f"P {partner.hex[:8]}",
        at=AT,
    )
    return partner


def add_campaign(url: str, partner: uuid.UUID, status: str) -> uuid.UUID:
    """A two-week e-mail campaign of ``partner``, as campaigns have been since migration
    0014 (their audiences in campaign_audiences)."""
    campaign = uuid.uuid4()
    run(
        url,
        "INSERT INTO campaigns (id, partner_id, name, channels, skus, creative, starts_on,"
        " ends_on, budget, currency, frequency_cap, holdout_share, post_click_days,"
        " post_view_days, status, revision, created_at, updated_at) VALUES (:campaign,"
        " :partner, :name, '[\"email\"]', '[]', '{}', '2026-07-06', '2026-07-19', 100, 'SEK',"
        " 1, 0.1, 14, 1, :status, 1, :at, :at)",
        [bindparam("campaign", type_=Uuid()), bindparam("partner", type_=Uuid())],
        campaign=campaign,
        partner=partner,
        name=f"C {campaign.hex[:8]}",
        status=status,
        at=AT,
    )
    return campaign


def add_audience(url: str, status: str, current: int, versions: int) -> uuid.UUID:
    """A rule audience with ``versions`` membership versions of size 1000, ``current`` its
    current one, as the tables have had them since migration 0022."""
    found = uuid.uuid4()
    typed = [bindparam("audience", type_=Uuid())]
    run(
        url,
        "INSERT INTO audiences (id, name, description, kind, status, currency, revision,"
        " current_version, created_at, updated_at)"
        " VALUES (:audience, :name, '', 'rule', :status, 'SEK', 1, :current, :at, :at)",
        typed,
        audience=found,
        name=f"A {found.hex[:8]}",
        status=status,
        current=current,
        at=AT,
    )
    for version in range(1, versions + 1):
        run(
            url,
            "INSERT INTO audience_versions (audience_id, version, size, reach, refreshed_at)"
            " VALUES (:audience, :version, 1000, '{}', :at)",
            typed,
            audience=found,
            version=version,
            at=AT,
        )
    return found
