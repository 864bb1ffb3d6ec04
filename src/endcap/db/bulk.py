"""Bulk writes of Arrow tables: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import io
import uuid
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import BigInteger, Column, MetaData, SelectBase, Table, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession


def is_postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """INSERT with ``on_conflict_do_nothing`` / ``..._do_update`` for this session's database."""
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


async def batch_memory(session: AsyncSession, megabytes: int) -> None:
    """Let this transaction's sorts and hashes use ``megabytes`` (PostgreSQL; SET LOCAL,
    so it ends with the transaction and is safe behind a transaction pooler)."""
    if is_postgres(session):
        setting = text("SELECT set_config('work_mem', :value, true)")  # true: this transaction only
        await session.execute(setting, {"value": f"{int(megabytes)}MB"})


async def no_jit(session: AsyncSession) -> None:
    """No JIT compilation for the rest of this transaction (PostgreSQL).

    A batch's big plans cross ``jit_above_cost``, and every parallel process then
    compiles their expressions again, with inlining and optimisation: at 100k profiles
    a trait refresh's roll-ups spent 2.9 s of CPU compiling (of 11.7 s), its traits
    INSERT about 0.5 s of its wall time, more than the compiled code saved."""
    if is_postgres(session):
        await session.execute(text("SELECT set_config('jit', 'off', true)"))


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


async def staged_rows(
    session: AsyncSession, prefix: str, columns: list[Column[Any]], rows: pa.Table
) -> Table:
    """``rows`` in a new temporary table of ``columns`` (COPY on PostgreSQL), for one
    set-based statement to join however many rows there are. Drop it when done
    (:func:`drop_staged`); it dies with the connection anyway."""
    staged = Table(f"{prefix}_{uuid.uuid4().hex[:8]}", MetaData(), *columns, prefixes=["TEMPORARY"])
    connection = await session.connection()
    await connection.run_sync(staged.create)
    await copy_rows(session, staged, rows)
    return staged


async def staged_ids(session: AsyncSession, prefix: str, query: SelectBase) -> Table:
    """The distinct non-null values of one-column ``query`` in a new temporary table with
    one column, ``profile_id`` (its primary key), analyzed on PostgreSQL so that joins on
    it are planned for its real size. Drop it when done (:func:`drop_staged`)."""
    staged = Table(
        f"{prefix}_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("profile_id", BigInteger, primary_key=True),
        prefixes=["TEMPORARY"],
    )
    connection = await session.connection()
    await connection.run_sync(staged.create)
    ids = query.subquery()
    column = ids.c[0]
    await session.execute(
        staged.insert().from_select(
            ["profile_id"], select(column).where(column.is_not(None)).distinct()
        )
    )
    if is_postgres(session):
        await session.execute(text(f"ANALYZE {staged.name}"))
    return staged


async def drop_staged(session: AsyncSession, staged: Table) -> None:
    connection = await session.connection()
    await connection.run_sync(staged.drop)


async def update_from_rows(session: AsyncSession, target: Table, key: str, rows: pa.Table) -> None:
    """Set the columns of ``rows`` on the ``target`` rows whose ``key`` matches (one UPDATE).

    The rows travel through a temporary table (COPY on PostgreSQL), so a million
    updates are one statement, not a million.
    """
    if rows.num_rows == 0:
        return
    columns = [Column(name, target.c[name].type) for name in rows.column_names]
    staged = await staged_rows(session, "upd", columns, rows)
    try:
        values = {name: staged.c[name] for name in rows.column_names if name != key}
        await session.execute(update(target).where(target.c[key] == staged.c[key]).values(values))
    finally:
        await drop_staged(session, staged)


async def insert_keyed_ids(
    session: AsyncSession, table: Table, fixed: dict[str, Any], column: str, ids: np.ndarray
) -> None:
    """Insert one row per id in ``ids`` (into ``column``), each with the ``fixed`` values.

    For member lists: a million profile ids are one COPY on PostgreSQL.
    """
    if ids.shape[0] == 0:
        return
    if not is_postgres(session):
        await session.execute(
            table.insert(), [{**fixed, column: int(value)} for value in ids.tolist()]
        )
        return
    count = int(ids.shape[0])
    columns = {name: pa.array([str(value)] * count) for name, value in fixed.items()}
    columns[column] = pa.array(ids.astype(np.int64))
    await copy_rows(session, table, pa.table(columns))
