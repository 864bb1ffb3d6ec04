"""Shared fixtures: one throwaway database per run (PostgreSQL or SQLite), migrated by
Alembic; one real server under uvicorn on it; API keys for each role.

Choose the backend with ``--db postgres`` or ``--db sqlite`` (``auto``, the
default, uses PostgreSQL when it answers). Tests marked ``postgres`` are
skipped on SQLite, and the summary says so.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.roles import Role
from endcap.client import EndcapClient
from endcap.config import DatabaseSettings
from tests.support import databases, scheduling
from tests.support.keys import make_key, make_partner
from tests.support.server import ServerProcess, start_server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("auto", "postgres", "sqlite"),
        default=os.environ.get("ENDCAP_TEST_DB", "auto"),
        help="database backend for this run",
    )


def pytest_configure(config: pytest.Config) -> None:
    choice = config.getoption("--db")
    if choice == "auto":
        choice = "postgres" if databases.postgres_reachable() else "sqlite"
    elif choice == "postgres" and not databases.postgres_reachable():
        raise pytest.UsageError(
            f"--db postgres, but PostgreSQL does not answer at {databases.POSTGRES_ADMIN_URL}"
        )
    config.stash[BACKEND] = choice


BACKEND = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    return f"endcap database backend: {config.stash[BACKEND]}"


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadscope`` (scripts/test), a package sharing a loaded retailer runs in
    one worker and every other file in one worker: each set-up is built once."""
    if config.getvalue("dist") != "loadscope":
        return None
    return scheduling.shared_setup_scheduler(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[BACKEND] == "postgres":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: this run is on SQLite")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    return pytestconfig.stash[BACKEND]


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this run, migrated to head by Alembic (the only schema source)."""
    with databases.migrated_database(
        backend, lambda: tmp_path_factory.mktemp("db"), "endcap_test"
    ) as url:
        yield url


@pytest.fixture(scope="session")
def database_settings(database_url: str) -> DatabaseSettings:
    return DatabaseSettings(url=database_url)


@pytest.fixture(scope="session")
async def engine(database_settings: DatabaseSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_settings.url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test.

    Services only flush, so everything a test does disappears with the rollback.
    """
    async with engine.connect() as connection:
        transaction = await connection.begin()
        async with AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        ) as session:
            yield session
        await transaction.rollback()


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(database_url, tmp_path_factory.mktemp("server"))
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def admin_key(database_settings: DatabaseSettings) -> str:
    """Bootstrapped the way `endcap keys create` does it: straight into the database."""
    return asyncio.run(make_key(database_settings, Role.RETAILER_ADMIN))


@pytest.fixture(scope="session")
def buyer_key(database_settings: DatabaseSettings) -> str:
    return asyncio.run(make_key(database_settings, Role.BUYER))


@pytest.fixture(scope="session")
def brand_partner_id(database_settings: DatabaseSettings) -> uuid.UUID:
    return asyncio.run(make_partner(database_settings, f"Brand A {uuid.uuid4().hex[:6]}"))


@pytest.fixture(scope="session")
def brand_key(database_settings: DatabaseSettings, brand_partner_id: uuid.UUID) -> str:
    return asyncio.run(make_key(database_settings, Role.BRAND, brand_partner_id))


@pytest.fixture(scope="session")
def keys_by_role(admin_key: str, buyer_key: str, brand_key: str) -> dict[Role, str]:
    return {Role.RETAILER_ADMIN: admin_key, Role.BUYER: buyer_key, Role.BRAND: brand_key}


@pytest.fixture
def admin(server: ServerProcess, admin_key: str) -> Iterator[EndcapClient]:
    with EndcapClient(server.base_url, admin_key) as client:
        yield client


@pytest.fixture
def brand(server: ServerProcess, brand_key: str) -> Iterator[EndcapClient]:
    with EndcapClient(server.base_url, brand_key) as client:
        yield client


@pytest.fixture
def anonymous(server: ServerProcess) -> Iterator[EndcapClient]:
    with EndcapClient(server.base_url) as client:
        yield client
