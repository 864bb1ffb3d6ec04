"""Set-based checks over a whole staged file: duplicate keys and unknown references."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, Table, and_, func, select, union
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Product, Store
from endcap.db.base import table_of
from endcap.identity.models import Customer
from endcap.ingest.validate import Rejection


@dataclass(frozen=True, slots=True)
class Reference:
    column: str
    target: ColumnElement[str]
    reason: str


REFERENCES: dict[str, tuple[Reference, ...]] = {
    "identifiers": (
        Reference("customer_id", table_of(Customer).c.customer_id, "unknown customer_id"),
    ),
    "consents": (
        Reference("customer_id", table_of(Customer).c.customer_id, "unknown customer_id"),
    ),
    "transactions": (
        Reference("sku", table_of(Product).c.sku, "unknown sku"),
        Reference("customer_id", table_of(Customer).c.customer_id, "unknown customer_id"),
        Reference("store_id", table_of(Store).c.store_id, "unknown store_id"),
    ),
}


async def duplicates(
    session: AsyncSession, stage: Table, key: tuple[str, ...], cap: int
) -> list[Rejection]:
    """The first ``cap`` rows whose key repeats an earlier row of the same file; each names
    the first line (:func:`rejected_rows` counts them all)."""
    found = _repeats(stage, key).order_by(stage.c.line).limit(cap)
    column = "+".join(key)
    return [
        Rejection(int(line), column, f"duplicate of line {first_line}")
        for line, first_line in (await session.execute(found)).all()
    ]


def _repeats(stage: Table, key: tuple[str, ...]) -> Select[tuple[int, int]]:
    """(line, first line) of each row whose key an earlier row of the file has."""
    keys = [stage.c[name] for name in key]
    first = (
        select(*keys, func.min(stage.c.line).label("first_line"))
        .group_by(*keys)
        .having(func.count() > 1)
        .subquery()
    )
    joined = and_(
        *(stage.c[name] == first.c[name] for name in key), stage.c.line > first.c.first_line
    )
    return select(stage.c.line, first.c.first_line).join(first, joined)


def _missing(stage: Table, ref: Reference) -> Select[tuple[int, str]]:
    """(line, value) of each row whose ``ref`` names nothing known."""
    column = stage.c[ref.column]
    return (
        select(stage.c.line, column)
        .outerjoin(ref.target.table, ref.target == column)
        .where(column.is_not(None), ref.target.is_(None))
    )


async def rejected_rows(
    session: AsyncSession, stage: Table, entity: str, key: tuple[str, ...]
) -> int:
    """How many rows the set-based checks reject: a line that repeats a key and names an
    unknown customer (or several unknowns) is one row."""
    line = stage.c.line
    lines = [_repeats(stage, key).with_only_columns(line)]
    lines += [_missing(stage, ref).with_only_columns(line) for ref in REFERENCES.get(entity, ())]
    found = union(*lines).subquery()
    result = await session.execute(select(func.count()).select_from(found))
    return int(result.scalar_one())


async def unknown_references(
    session: AsyncSession, stage: Table, entity: str, cap: int
) -> list[Rejection]:
    """Per reference, the first ``cap`` rows naming nothing known (:func:`rejected_rows`
    counts them all)."""
    rejections: list[Rejection] = []
    for ref in REFERENCES.get(entity, ()):
        missing = _missing(stage, ref).order_by(stage.c.line).limit(cap)
        rejections.extend(
            Rejection(int(line), ref.column, f"{ref.reason} {value!r}")
            for line, value in (await session.execute(missing)).all()
        )
    return rejections
