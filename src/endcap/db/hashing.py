"""SHA-256 (hex) of a text column in SQL, on both databases: PostgreSQL has ``sha256``;
SQLite gets the same as a function of the connection (:func:`enable_sha256`)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, String
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

SQLITE_FUNCTION = "endcap_sha256_hex"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sqlite_sha256_hex(text: str | None) -> str | None:
    """The SQLite function (NULL stays NULL, as PostgreSQL's does)."""
    return None if text is None else sha256_hex(text)


async def enable_sha256(connection: AsyncConnection) -> None:
    """Make :class:`Sha256Hex` runnable on ``connection`` (on SQLite, define its function
    there: whichever engine made the connection; PostgreSQL needs nothing)."""
    if connection.dialect.name == "sqlite":
        await connection.run_sync(_define)


def _define(connection: Connection) -> None:
    raw: Any = connection.connection.dbapi_connection
    raw.create_function(SQLITE_FUNCTION, 1, sqlite_sha256_hex, deterministic=True)


class Sha256Hex(FunctionElement[str]):
    type = String()
    inherit_cache = True


@compiles(Sha256Hex, "postgresql")
def _postgres(element: Sha256Hex, compiler: SQLCompiler, **kw: Any) -> str:
    return f"encode(sha256(convert_to({compiler.process(element.clauses, **kw)}, 'UTF8')), 'hex')"


@compiles(Sha256Hex)
def _other(element: Sha256Hex, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"
