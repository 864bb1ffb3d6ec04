"""A database and server of this package's own (as tests/audiences has), so that the
channel settings these tests change and the jobs they queue meet no other package's.

The server's in-process worker runs the exports the HTTP tests queue, with a signing
secret, a short back-off and a drop folder of the test's; the other tests run the
export handler themselves, on activations that have no job (no worker can take them).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from endcap.auth.roles import Role
from endcap.config import ActivationSettings, DatabaseSettings, Settings
from endcap.db.engine import SessionFactory, create_engine, create_session_factory
from tests.activation.receiver import ChannelReceiver
from tests.support import databases
from tests.support.keys import make_key, make_partner
from tests.support.server import ServerProcess

SECRET = "test-signing-secret"
ATTEMPTS = 4
BACKOFF = 0.01
TIMEOUT = 5.0  # seconds a push waits for the channel's answer, per attempt


@pytest.fixture(scope="package")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with databases.migrated_database(
        backend, lambda: tmp_path_factory.mktemp("activation-db"), "endcap_test_activation"
    ) as url:
        yield url


@pytest.fixture(scope="package")
def database_settings(database_url: str) -> DatabaseSettings:
    return DatabaseSettings(url=database_url)


@pytest.fixture(scope="package")
async def engine(database_settings: DatabaseSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="package")
def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture(scope="package")
def server_drop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-drop")


@pytest.fixture(scope="package")
def server(
    database_url: str, server_drop_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("activation-server")
    env = {
        "ENDCAP_DATABASE_URL": database_url,
        "ENDCAP_INGEST_SPOOL_DIR": str(folder / "uploads"),
        "ENDCAP_ACTIVATION_DROP_DIR": str(server_drop_dir),
        "ENDCAP_ACTIVATION_SIGNING_SECRET": SECRET,
        "ENDCAP_ACTIVATION_ATTEMPTS": str(ATTEMPTS),
        "ENDCAP_ACTIVATION_BACKOFF_SECONDS": str(BACKOFF),
        "ENDCAP_ACTIVATION_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    proc = ServerProcess(env, folder / "server.log").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def admin_key(database_settings: DatabaseSettings) -> str:
    return asyncio.run(make_key(database_settings, Role.RETAILER_ADMIN))


@pytest.fixture(scope="package")
def buyer_key(database_settings: DatabaseSettings) -> str:
    return asyncio.run(make_key(database_settings, Role.BUYER))


@pytest.fixture(scope="package")
def brand_partner_id(database_settings: DatabaseSettings) -> uuid.UUID:
    return asyncio.run(make_partner(database_settings, f"Brand A {uuid.uuid4().hex[:6]}"))


@pytest.fixture(scope="package")
def brand_key(database_settings: DatabaseSettings, brand_partner_id: uuid.UUID) -> str:
    return asyncio.run(make_key(database_settings, Role.BRAND, brand_partner_id))


@pytest.fixture(scope="package")
def keys_by_role(admin_key: str, buyer_key: str, brand_key: str) -> dict[Role, str]:
    return {Role.RETAILER_ADMIN: admin_key, Role.BUYER: buyer_key, Role.BRAND: brand_key}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for running the export in the test: a drop folder of the test's own."""
    settings = Settings()
    settings.database = DatabaseSettings(url=database_url)
    settings.activation = ActivationSettings(
        drop_dir=str(tmp_path / "drop"),
        signing_secret=SECRET,
        attempts=ATTEMPTS,
        backoff_seconds=BACKOFF,
        timeout_seconds=TIMEOUT,
        chunk_rows=100,  # several chunks even for a small shop: profiles run across them
    )
    return settings


@pytest.fixture
def receiver() -> Iterator[ChannelReceiver]:
    with ChannelReceiver() as channel:
        yield channel
