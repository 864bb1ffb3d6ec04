"""Bulk writes of Arrow tables: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession


def is_postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


async def copy_rows(session: AsyncSession, table: Table, rows: pa.Table) -> None:
    """Append ``rows`` (columns named as in ``table``) inside the session's transaction."""
    if rows.num_rows == 0:
        return
    if not is_postgres(session):
        await session.execute(table.insert(), rows.to_pylist())
        return
    buffer = io.BytesIO()
    pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    buffer.seek(0)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:  # pragma: no cover - an open asyncpg connection always has one
        raise RuntimeError("no driver connection for COPY")
    await driver.copy_to_table(
        table.name,
        schema_name=table.schema,
        source=buffer,
        columns=list(rows.column_names),
        format="csv",
    )
