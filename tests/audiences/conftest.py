"""The synthetic retailer the audience HTTP tests share (loading it is the slow part).

It lives in a database and server of this package's own: what other packages load
through the shared server (other dates, other shoppers) would otherwise change what
these tests see, depending on the order the tests run in. ``server``, ``admin_key``,
``brand_partner_id`` and ``brand_key`` are overridden here, so ``admin`` and ``brand``
reach this package's server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from endcap.auth.roles import Role
from endcap.client import EndcapClient
from endcap.config import DatabaseSettings
from tests.support import databases
from tests.support.keys import make_key, make_partner
from tests.support.server import ServerProcess, start_server
from tests.support.synthetic_shop import load_over_http

PROFILES = 3000


@pytest.fixture(scope="package")
def shop_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with databases.migrated_database(
        backend, lambda: tmp_path_factory.mktemp("audiences-db"), "endcap_test_audiences"
    ) as url:
        yield url


@pytest.fixture(scope="package")
def server(shop_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(shop_database, tmp_path_factory.mktemp("audiences-server"))
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def admin_key(shop_database: str) -> str:
    return asyncio.run(make_key(DatabaseSettings(url=shop_database), Role.RETAILER_ADMIN))


@pytest.fixture(scope="package")
def brand_partner_id(shop_database: str) -> uuid.UUID:
    name = f"Brand A {uuid.uuid4().hex[:6]}"
    return asyncio.run(make_partner(DatabaseSettings(url=shop_database), name))


@pytest.fixture(scope="package")
def brand_key(shop_database: str, brand_partner_id: uuid.UUID) -> str:
    settings = DatabaseSettings(url=shop_database)
    return asyncio.run(make_key(settings, Role.BRAND, brand_partner_id))


@pytest.fixture(scope="package")
def retailer(
    server: ServerProcess, admin_key: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A 3,000-person retailer, loaded and with traits refreshed, shared by this package."""
    folder = tmp_path_factory.mktemp("audience-retailer")
    with EndcapClient(server.base_url, admin_key, timeout=120) as admin:
        load_over_http(admin, folder, PROFILES, seed=23)
    return {"folder": folder}
