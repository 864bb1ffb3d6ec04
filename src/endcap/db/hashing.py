"""SHA-256 (hex) of a text column in SQL, on both databases: PostgreSQL has ``sha256``;
SQLite gets the same as a function of each connection (db/engine.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

SQLITE_FUNCTION = "endcap_sha256_hex"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sqlite_sha256_hex(text: str | None) -> str | None:
    """The SQLite function (NULL stays NULL, as PostgreSQL's does)."""
    return None if text is None else sha256_hex(text)


class Sha256Hex(FunctionElement[str]):
    type = String()
    inherit_cache = True


@compiles(Sha256Hex, "postgresql")
def _postgres(element: Sha256Hex, compiler: SQLCompiler, **kw: Any) -> str:
    return f"encode(sha256(convert_to({compiler.process(element.clauses, **kw)}, 'UTF8')), 'hex')"


@compiles(Sha256Hex)
def _other(element: Sha256Hex, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"
