"""Cached audiences and rates across server processes on PostgreSQL: a change made in one
process, or through SQL, reaches every forecast and draft within the bound; a booking
always prices what is committed; and a process caches nothing while a trigger is off.
Two real servers on one database, over real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from endcap.audiences.models import Audience, AudienceStatus, AudienceVersion
from endcap.auth.roles import Role
from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.config import DatabaseSettings
from endcap.db.session import standalone_session
from endcap.marketplace.quote_changes import CHANNEL
from endcap.partners.models import PartnerManufacturer
from tests.support.change_feed import (
    FRESH_FOR,
    behind_the_triggers,
    listeners,
    sql,
    wait_for_listeners,
    within_the_bound,
)
from tests.support.keys import make_key, make_partner
from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.postgres
PRICE = "UPDATE channel_settings SET cpm = :cpm WHERE channel = 'email'"


@dataclass(frozen=True, slots=True)
class Shop:
    audience_id: uuid.UUID
    brand_key: str
    admin_key: str
    skus: list[str]


@pytest.fixture(scope="module")
def shop(database_settings: DatabaseSettings, database_url: str) -> Shop:
    """A published audience (premium 2.00 SEK), an e-mail rate card (25.00 SEK), and a brand
    owning two products: all a forecast and a booking need."""
    tag = uuid.uuid4().hex[:8]
    partner_id = asyncio.run(make_partner(database_settings, f"Quote cache partner {tag}"))

    async def seed() -> tuple[uuid.UUID, list[str]]:
        async with standalone_session(database_settings) as session:
            maker = Manufacturer(name=f"Quote cache foods {tag}")
            session.add(maker)
            await session.flush()
            brand = Brand(name=f"Quote cache {tag}", manufacturer_id=maker.id or 0)
            session.add(brand)
            await session.flush()
            skus = [f"quote-cache-{tag}-{i}" for i in range(2)]
            session.add_all(
                Product(
                    sku=s, name=s, brand_id=brand.id or 0, department="Pantry", category="Snacks"
                )
                for s in skus
            )
            session.add(PartnerManufacturer(partner_id=partner_id, manufacturer_id=maker.id or 0))
            audience = Audience(
                name=f"Quote cache audience {tag}",
                status=AudienceStatus.PUBLISHED,
                cpm=Decimal("2.00"),
                currency="SEK",
            )
            audience.current_version = 1
            session.add(audience)
            await session.flush()
            session.add(
                AudienceVersion(
                    audience_id=audience.id, version=1, size=100_000, reach={"email": 50_000}
                )
            )
        return audience.id, skus

    audience_id, skus = asyncio.run(seed())
    sql(
        database_url,
        "INSERT INTO channel_settings (channel, cpm, currency, weekly_capacity,"
        " max_per_profile_week, updated_at) VALUES ('email', 25, 'SEK', 1000000000, 3, now())"
        " ON CONFLICT (channel) DO UPDATE SET cpm = 25, currency = 'SEK',"
        " weekly_capacity = 1000000000, max_per_profile_week = 3",
    )
    return Shop(
        audience_id,
        asyncio.run(make_key(database_settings, Role.BRAND, partner_id)),
        asyncio.run(make_key(database_settings, Role.RETAILER_ADMIN)),
        skus,
    )


@pytest.fixture(scope="module")
def two_servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    before = listeners(database_url)
    first = start_server(database_url, tmp_path_factory.mktemp("quotes-first"))
    second = start_server(database_url, tmp_path_factory.mktemp("quotes-second"))
    try:
        wait_for_listeners(database_url, before + 2)  # and caches serve
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture(autouse=True)
def priced_at_25(shop: Shop, database_url: str) -> None:
    """Every test starts from the same prices, known to every process."""
    sql(
        database_url,
        PRICE,
        "UPDATE audiences SET cpm = 2.00 WHERE id = :id",
        cpm=25,
        id=shop.audience_id,
    )
    time.sleep(0.1)


def flight() -> dict[str, Any]:
    starts = date.today() + timedelta(days=14)  # noqa: DTZ011  (a calendar day)
    return {"starts_on": starts.isoformat(), "ends_on": (starts + timedelta(days=13)).isoformat()}


def forecast(server: ServerProcess, shop: Shop) -> httpx.Response:
    body = {"audience_id": str(shop.audience_id), "channels": ["email"], **flight()}
    return httpx.post(
        f"{server.base_url}/api/v1/forecasts",
        json=body,
        headers={"Authorization": f"Bearer {shop.brand_key}"},
        timeout=10,
    )


def cpm(server: ServerProcess, shop: Shop) -> Decimal:
    """The CPM a forecast quotes: the channel's rate plus the audience's premium."""
    response = forecast(server, shop)
    assert response.status_code == 200, response.text
    return Decimal(response.json()["lines"][0]["cpm"])


def book(server: ServerProcess, shop: Shop) -> dict[str, Any]:
    """A draft, then its booking, on ``server``; the booked campaign."""
    headers = {"Authorization": f"Bearer {shop.brand_key}"}
    body = {
        "name": f"Quote cache {uuid.uuid4().hex}",
        "audience_id": str(shop.audience_id),
        "skus": shop.skus,
        "channels": ["email"],
        "budget": "1000.00",
        "currency": "SEK",
        "frequency_cap": 1,
        **flight(),
    }
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as http:
        draft = http.post("/api/v1/campaigns", json=body)
        assert draft.status_code == 201, draft.text
        booked = http.post(f"/api/v1/campaigns/{draft.json()['id']}/book")
        assert booked.status_code == 200, booked.text
        found: dict[str, Any] = booked.json()
        return found


def test_forecasts_come_from_the_cache_and_bookings_from_the_database(
    two_servers: tuple[ServerProcess, ServerProcess], shop: Shop, database_url: str
) -> None:
    _, second = two_servers
    assert cpm(second, shop) == Decimal("27.00")  # read, and now kept
    behind_the_triggers(database_url, PRICE, cpm=30)
    # The cache is real: without a notification the forecast still quotes the old rate...
    assert cpm(second, shop) == Decimal("27.00")
    # ... but a booking prices what is committed, read in its own transaction.
    booked = book(second, shop)
    assert [line["cpm"] for line in booked["lines"]] == ["32.00"]
    impressions = booked["booked_impressions"]
    assert Decimal(booked["booked_cost"]) == (Decimal("32.00") * impressions / 1000).quantize(
        Decimal("0.01")
    )
    sql(database_url, f"NOTIFY {CHANNEL}")  # what every trigger sends
    within_the_bound(lambda: cpm(second, shop) == Decimal("32.00"))


def test_a_rate_changed_in_one_process_is_quoted_by_the_other(
    two_servers: tuple[ServerProcess, ServerProcess], shop: Shop
) -> None:
    first, second = two_servers
    assert (cpm(first, shop), cpm(second, shop)) == (Decimal("27.00"), Decimal("27.00"))
    changed = httpx.put(
        f"{first.base_url}/api/v1/channels/email",
        json={
            "cpm": "35.00",
            "currency": "SEK",
            "weekly_capacity": 1_000_000_000,
            "max_per_profile_week": 3,
        },
        headers={"Authorization": f"Bearer {shop.admin_key}"},
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    within_the_bound(lambda: cpm(second, shop) == Decimal("37.00"))
    assert cpm(first, shop) == Decimal("37.00")


def test_an_audience_changed_in_sql_reaches_every_process(
    two_servers: tuple[ServerProcess, ServerProcess], shop: Shop, database_url: str
) -> None:
    first, second = two_servers
    assert (cpm(first, shop), cpm(second, shop)) == (Decimal("27.00"), Decimal("27.00"))
    sql(database_url, "UPDATE audiences SET cpm = 4.50 WHERE id = :id", id=shop.audience_id)
    within_the_bound(lambda: {cpm(s, shop) for s in (first, second)} == {Decimal("29.50")})
    # Withdrawn by hand: neither process offers it any more.
    sql(database_url, "UPDATE audiences SET status = 'draft' WHERE id = :id", id=shop.audience_id)
    try:
        within_the_bound(lambda: {forecast(s, shop).status_code for s in (first, second)} == {422})
    finally:
        sql(
            database_url,
            "UPDATE audiences SET status = 'published' WHERE id = :id",
            id=shop.audience_id,
        )


def test_nothing_is_cached_while_a_trigger_is_disabled(
    two_servers: tuple[ServerProcess, ServerProcess], shop: Shop, database_url: str
) -> None:
    _, second = two_servers
    trigger = "audience_versions_notify_change"
    sql(database_url, f"ALTER TABLE audience_versions DISABLE TRIGGER {trigger}")
    try:
        time.sleep(FRESH_FOR)  # a heartbeat finds it off
        assert [cpm(second, shop) for _ in range(2)] == [Decimal("27.00")] * 2
        behind_the_triggers(database_url, PRICE, cpm=30)
        assert cpm(second, shop) == Decimal("32.00")  # read again, not remembered
    finally:
        sql(database_url, f"ALTER TABLE audience_versions ENABLE TRIGGER {trigger}")
    time.sleep(FRESH_FOR)  # listening again, for the tests after this one
