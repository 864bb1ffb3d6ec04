"""The staging area of one load: a temporary table filled chunk by chunk (COPY on
PostgreSQL), checked with set-based SQL, then applied in one statement."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    MetaData,
    Numeric,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.types import TypeEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.bulk import copy_rows, is_postgres
from endcap.db.types import JsonDocument, UTCDateTime
from endcap.ingest.contract import EntitySpec
from endcap.ingest.prepare import stage_columns

TIMESTAMPS = {"observed_at", "recorded_at", "occurred_at"}
NUMBERS = {"quantity", "sales_value", "discount"}


def _type(name: str, postgres: bool) -> TypeEngine[Any]:
    if name in TIMESTAMPS:
        return DateTime(timezone=True) if postgres else UTCDateTime()
    if name == "private_label":
        return Boolean()
    if name in NUMBERS and postgres:
        return Numeric()
    if name == "attributes" and postgres:
        return JsonDocument
    return Text()


class StagingArea:
    def __init__(self, session: AsyncSession, spec: EntitySpec) -> None:
        self.session = session
        self.spec = spec
        self.postgres = is_postgres(session)
        self.names = stage_columns(spec)
        self.table = Table(
            f"stage_{spec.name}_{uuid.uuid4().hex[:8]}",
            MetaData(),
            Column("line", BigInteger, nullable=False),
            *(Column(name, _type(name, self.postgres)) for name in self.names),
            prefixes=["TEMPORARY"],
        )
        self.rows = 0

    async def create(self) -> None:
        connection = await self.session.connection()
        await connection.run_sync(self.table.create)

    async def drop(self) -> None:
        connection = await self.session.connection()
        await connection.run_sync(self.table.drop, checkfirst=True)

    async def add(self, rows: pa.Table) -> None:
        await copy_rows(self.session, self.table, rows)
        self.rows += rows.num_rows

    async def analyze(self) -> None:
        """Fresh statistics so the checks and the apply get good plans on big loads."""
        if self.postgres:
            connection = await self.session.connection()
            await connection.exec_driver_sql(f'ANALYZE "{self.table.name}"')  # our own name

    async def count(self) -> int:
        result = await self.session.execute(select(func.count()).select_from(self.table))
        return int(result.scalar_one())
