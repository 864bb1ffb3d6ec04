"""Shared helpers for the ingest and identity tests: a fresh, empty, migrated database
per test (so table counts are exact and loads really commit), file writers for the
three formats, and a small client that loads a file the way the CLI does.

The fresh databases are cloned from one migrated template per run: ``CREATE DATABASE
... TEMPLATE`` on PostgreSQL, a file copy on SQLite.
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from endcap.config import DatabaseSettings, IdentitySettings, IngestSettings, Settings
from endcap.db.engine import create_engine, create_session_factory
from endcap.ingest.schemas import IngestReport
from endcap.ingest.service import IngestService
from tests.support import databases

Row = Mapping[str, object]

# The catalog and store every transaction test needs.
PRODUCTS_CSV = (
    "sku,name,brand,manufacturer,category\n"
    "SKU1,Oat milk 1l,Oatly,Oatly AB,Dairy alternatives\n"
    "SKU2,Crisp bread,Wasa,Barilla,Bread\n"
    "SKU3,Coffee 500g,Zoegas,Nestle,Coffee\n"
)
STORES_CSV = (
    "store_id,name,region,format\nS1,Central,Stockholm,hyper\nS2,Harbour,Gothenburg,super\n"
)
CUSTOMERS_CSV = "customer_id,age_band\nC1,25-34\nC2,35-44\nC3,45-54\n"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_ndjson(path: Path, records: Sequence[Row]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_parquet(path: Path, table: pa.Table, *, row_group_size: int | None = None) -> Path:
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def make_settings(
    *,
    chunk_bytes: int | None = None,
    chunk_rows: int | None = None,
    rejection_cap: int | None = None,
    allow_returns: bool = False,
    shared_identifier_threshold: int = 5,
    keep_raw: bool = False,
) -> Settings:
    settings = Settings()
    ingest: dict[str, Any] = {"allow_returns": allow_returns}
    if chunk_bytes is not None:
        ingest["chunk_bytes"] = chunk_bytes
    if chunk_rows is not None:
        ingest["chunk_rows"] = chunk_rows
    if rejection_cap is not None:
        ingest["rejection_cap"] = rejection_cap
    settings.ingest = IngestSettings(**ingest)
    settings.identity = IdentitySettings(
        shared_identifier_threshold=shared_identifier_threshold,
        keep_raw=keep_raw,
        default_phone_region="SE",
    )
    return settings


class Db:
    """One fresh database: load files into it (committed, as the CLI does) and read it back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.settings = DatabaseSettings(url=url)
        self.engine: AsyncEngine = create_engine(self.settings)
        self.sessions = create_session_factory(self.engine)

    @property
    def postgres(self) -> bool:
        return not self.settings.is_sqlite

    async def load(self, entity: str, path: Path, settings: Settings | None = None) -> IngestReport:
        async with self.sessions() as session:
            report = await IngestService(session, settings or make_settings()).load(entity, path)
            await session.commit()
        return report

    async def rows(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(text(sql), params)
            return [tuple(r) for r in result.all()]

    async def select(self, statement: Any) -> list[tuple[Any, ...]]:
        """Rows of a Core select, typed by the models (Decimal, aware datetime) on both backends."""
        async with self.engine.connect() as connection:
            return [tuple(r) for r in (await connection.execute(statement)).all()]

    async def scalar(self, sql: str, **params: object) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar_one()

    async def count(self, table: str) -> int:
        return int(await self.scalar(f"SELECT count(*) FROM {table}"))  # noqa: S608  (test-owned names)

    async def snapshot(self, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of each table, sorted, as text: compare before and after a bad load."""
        found = {}
        for table in tables:
            rows = await self.rows(f"SELECT * FROM {table}")  # noqa: S608  (test-owned names)
            found[table] = sorted(tuple(str(v) for v in r) for r in rows)
        return found

    async def seed_catalog(self, tmp_path: Path) -> None:
        """Products, stores and customers, so that transactions have something to name."""
        for entity, content in (
            ("products", PRODUCTS_CSV),
            ("stores", STORES_CSV),
            ("customers", CUSTOMERS_CSV),
        ):
            report = await self.load(entity, write(tmp_path / f"seed_{entity}.csv", content))
            assert report.status == "loaded", report.rejections


DATA_TABLES = (
    "manufacturers",
    "brands",
    "products",
    "stores",
    "profiles",
    "customers",
    "identifiers",
    "shared_identifiers",
    "profile_merges",
    "consent_events",
    "profile_consents",
    "transactions",
)


# -- fixtures (imported by tests/ingest/conftest.py and tests/identity/conftest.py) -----------


@pytest.fixture(scope="session")
def template_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated, empty database per run that each test's database is cloned from."""
    with databases.migrated_database(
        backend, lambda: tmp_path_factory.mktemp("template"), "endcap_tpl"
    ) as url:
        yield url


async def clone_database(template: str, folder: Path) -> str:
    if template.startswith("sqlite"):
        source = Path(template.split("///", 1)[1])
        shutil.copyfile(source, folder / "endcap.db")
        return databases.sqlite_url(folder)
    name = f"endcap_t_{uuid.uuid4().hex[:12]}"
    template_name = urlparse(template).path.lstrip("/")
    await databases.execute(
        databases.POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'
    )
    return urlparse(template)._replace(path=f"/{name}").geturl()


async def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = urlparse(url).path.lstrip("/")
        await databases.execute(
            databases.POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )


@pytest.fixture
async def db(template_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Db]:
    """A fresh, empty, migrated database for this test alone."""
    url = await clone_database(template_url, tmp_path_factory.mktemp("fresh"))
    database = Db(url)
    try:
        yield database
    finally:
        await database.engine.dispose()
        await drop_database(url)
