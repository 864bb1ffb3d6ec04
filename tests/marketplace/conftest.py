"""A marketplace of this package's own: a database, a server, a loaded synthetic retailer
with one published audience, two brand partners with a manufacturer each, and rate cards.

The server runs with a smaller minimum audience (300, rounded to 100) so a
2,000-person retailer gives audiences big enough to book; every privacy rule
still applies at those settings. Activations go to a file drop under the
package's temporary folder.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from endcap.auth.roles import Role
from endcap.catalog.schemas import ProductPublic
from endcap.client import EndcapClient
from endcap.config import DatabaseSettings
from endcap.privacy.settings import SENSITIVE_DEPARTMENTS
from tests.audiences.http import create, refresh
from tests.support import databases
from tests.support.keys import make_key, make_partner
from tests.support.server import ServerProcess
from tests.support.synthetic_shop import load_over_http

PROFILES = 2000
MIN_AUDIENCE = 300
EVERYONE = {"trait": "spend_52w", "op": ">", "value": 0}
SIGNING_SECRET = "test-signing-secret"


@dataclass(frozen=True, slots=True)
class Brand:
    partner_id: uuid.UUID
    key: str
    manufacturer: str
    skus: list[str]


@dataclass(frozen=True, slots=True)
class Market:
    server: ServerProcess
    admin_key: str
    audience_id: uuid.UUID
    drop_dir: Path
    files: Path  # the synthetic retailer's contract files, as loaded
    a: Brand
    b: Brand

    def client(self, key: str) -> EndcapClient:
        return EndcapClient(self.server.base_url, key, timeout=60)


@pytest.fixture(scope="package")
def market_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with databases.migrated_database(
        backend, lambda: tmp_path_factory.mktemp("market-db"), "endcap_test_market"
    ) as url:
        yield url


@pytest.fixture(scope="package")
def market(market_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    folder = tmp_path_factory.mktemp("market")
    env = {
        "ENDCAP_DATABASE_URL": market_database,
        "ENDCAP_INGEST_SPOOL_DIR": str(folder / "uploads"),
        "ENDCAP_PRIVACY_MIN_AUDIENCE": str(MIN_AUDIENCE),
        "ENDCAP_ACTIVATION_DROP_DIR": str(folder / "drop"),
        "ENDCAP_ACTIVATION_SIGNING_SECRET": SIGNING_SECRET,
        "ENDCAP_ACTIVATION_BACKOFF_SECONDS": "0.05",
    }
    server = ServerProcess(env, folder / "server.log").start()
    db = DatabaseSettings(url=market_database)
    admin_key = asyncio.run(make_key(db, Role.RETAILER_ADMIN))
    try:
        with EndcapClient(server.base_url, admin_key, timeout=300) as admin:
            _load(admin, folder)
            audience = refresh(admin, create(admin, rule=EVERYONE, cpm="2.00", currency="SEK").id)
            admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
            for channel, cpm in (("onsite_display", "40.00"), ("email", "25.00")):
                admin.configure_channel(
                    channel,
                    cpm=cpm,
                    currency="SEK",
                    weekly_capacity=1_000_000,
                    max_per_profile_week=3,
                )
            brands = [_brand(admin, db, maker) for maker in _makers(admin)[:2]]
        yield Market(server, admin_key, audience.id, folder / "drop", folder / "files", *brands)
    finally:
        server.stop()


def _load(admin: EndcapClient, folder: Path) -> None:
    load_over_http(admin, folder / "files", PROFILES, seed=31)


def promotable(admin: EndcapClient) -> list[ProductPublic]:
    """Branded products outside the sensitive departments (those fail the approval checks)."""
    return [
        p
        for p in admin.products(limit=500).items
        if not p.private_label and p.department not in SENSITIVE_DEPARTMENTS
    ]


def _makers(admin: EndcapClient) -> list[str]:
    return sorted({p.manufacturer for p in promotable(admin)})


def _brand(admin: EndcapClient, db: DatabaseSettings, manufacturer: str) -> Brand:
    partner_id = asyncio.run(make_partner(db, f"{manufacturer} {uuid.uuid4().hex[:6]}"))
    admin.link_manufacturer(partner_id, manufacturer)
    skus = [p.sku for p in promotable(admin) if p.manufacturer == manufacturer]
    key = asyncio.run(make_key(db, Role.BRAND, partner_id))
    return Brand(partner_id, key, manufacturer, skus[:3])
