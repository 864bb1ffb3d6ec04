"""Applying a checked staging table to its target: one set-based upsert per entity.

Every upsert only touches a row whose values changed, so loading the same file
again changes nothing (and counts nothing as updated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, exists, func, literal, or_, select, true
from sqlalchemy.sql.dml import Insert
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product, Store
from endcap.consent.models import ConsentEvent
from endcap.consent.state import refresh_consents
from endcap.db.base import table_of
from endcap.db.bulk import dialect_insert
from endcap.db.types import utcnow
from endcap.identity.models import Customer, Identifier
from endcap.purchases.models import TransactionLine
from endcap.traits.staleness import mark_stale

MANUFACTURERS = table_of(Manufacturer)
BRANDS = table_of(Brand)
PRODUCTS = table_of(Product)
STORES = table_of(Store)
CUSTOMERS = table_of(Customer)
IDENTIFIERS = table_of(Identifier)
CONSENTS = table_of(ConsentEvent)
TRANSACTIONS = table_of(TransactionLine)


@dataclass(frozen=True, slots=True)
class Applied:
    inserted: int
    updated: int


def _changed(target: Table, excluded: Any, columns: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(target.c[c].is_distinct_from(excluded[c]) for c in columns))


async def _upsert(
    session: AsyncSession,
    target: Table,
    columns: Sequence[str],
    query: Any,
    key: Sequence[str],
    update: Sequence[str],
    existing: int,
    staged: int,
    touch: Sequence[str] = (),
) -> Applied:
    """``touch`` columns (updated_at) are set on a changed row but never make a row changed."""
    statement: Insert = dialect_insert(session, target).from_select(list(columns), query)
    if existing == 0:
        # Nothing staged is in the table yet (a first load, a new day of lines): a
        # plain insert skips the per-row conflict check, the costliest part of a big load.
        pass
    elif update:
        excluded = statement.excluded  # type: ignore[attr-defined]
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=list(key),
            set_={c: excluded[c] for c in (*update, *touch)},
            where=_changed(target, excluded, update),
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))  # type: ignore[attr-defined]
    result = await session.execute(statement)
    changed = max(int(result.rowcount or 0), 0)  # type: ignore[attr-defined]
    inserted = staged - existing
    return Applied(inserted=inserted, updated=max(changed - inserted, 0))


async def _existing(
    session: AsyncSession, stage: Table, condition: ColumnElement[bool], target: Table
) -> int:
    """Staged rows whose key already exists in ``target`` (to tell inserts from updates)."""
    return await _count(
        session,
        select(func.count())
        .select_from(stage)
        .where(exists().where(condition).select_from(target)),
    )


async def _count(session: AsyncSession, query: Any) -> int:
    return int((await session.execute(query)).scalar_one())


async def apply(session: AsyncSession, entity: str, stage: Table, staged: int) -> Applied:
    return await APPLIERS[entity](session, stage, staged)


async def _products(session: AsyncSession, stage: Table, staged: int) -> Applied:
    s = stage.c
    # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT (its parser is ambiguous there).
    await session.execute(
        dialect_insert(session, MANUFACTURERS)
        .from_select(["name"], select(s.manufacturer).distinct().where(true()))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    m = MANUFACTURERS.c
    brands = (
        select(s.brand, m.id, func.max(case((s.private_label, 1), else_=0)) == 1)
        .join(MANUFACTURERS, m.name == s.manufacturer)
        .where(true())
        .group_by(s.brand, m.id)
    )
    await session.execute(
        dialect_insert(session, BRANDS)
        .from_select(["name", "manufacturer_id", "private_label"], brands)
        .on_conflict_do_nothing(index_elements=["manufacturer_id", "name"])
    )
    b = BRANDS.c
    fields = [
        "name",
        "department",
        "category",
        "subcategory",
        "private_label",
        "package_size",
        "attributes",
    ]
    query = (
        select(s.sku, *(s[f] for f in fields), b.id, literal(utcnow(), PRODUCTS.c.updated_at.type))
        .join(MANUFACTURERS, m.name == s.manufacturer)
        .join(BRANDS, and_(b.manufacturer_id == m.id, b.name == s.brand))
        .where(true())
    )
    existing = await _existing(session, stage, PRODUCTS.c.sku == s.sku, PRODUCTS)
    return await _upsert(
        session,
        PRODUCTS,
        ["sku", *fields, "brand_id", "updated_at"],
        query,
        ["sku"],
        [*fields, "brand_id"],
        existing,
        staged,
        touch=["updated_at"],
    )


async def _stores(session: AsyncSession, stage: Table, staged: int) -> Applied:
    s = stage.c
    fields = ["name", "region", "format"]
    query = select(
        s.store_id, *(s[f] for f in fields), literal(utcnow(), STORES.c.updated_at.type)
    ).where(true())
    existing = await _existing(session, stage, STORES.c.store_id == s.store_id, STORES)
    return await _upsert(
        session,
        STORES,
        ["store_id", *fields, "updated_at"],
        query,
        ["store_id"],
        fields,
        existing,
        staged,
        touch=["updated_at"],
    )


async def _customers(session: AsyncSession, stage: Table, staged: int) -> Applied:
    s = stage.c
    query = select(
        s.customer_id, s.attributes, literal(utcnow(), CUSTOMERS.c.updated_at.type)
    ).where(true())
    existing = await _existing(session, stage, CUSTOMERS.c.customer_id == s.customer_id, CUSTOMERS)
    return await _upsert(
        session,
        CUSTOMERS,
        ["customer_id", "attributes", "updated_at"],
        query,
        ["customer_id"],
        ["attributes"],
        existing,
        staged,
        touch=["updated_at"],
    )


async def _identifiers(session: AsyncSession, stage: Table, staged: int) -> Applied:
    s = stage.c
    c = CUSTOMERS.c
    query = (
        select(s.id_type, s.id_value, c.id, s.raw_value, s.observed_at)
        .join(CUSTOMERS, c.customer_id == s.customer_id)
        .where(true())
    )
    i = IDENTIFIERS.c
    matched = and_(i.id_type == s.id_type, i.id_value == s.id_value, i.customer_ref == c.id)
    existing = await _count(
        session,
        select(func.count())
        .select_from(stage)
        .join(CUSTOMERS, c.customer_id == s.customer_id)
        .join(IDENTIFIERS, matched),
    )
    return await _upsert(
        session,
        IDENTIFIERS,
        ["id_type", "id_value", "customer_ref", "raw_value", "observed_at"],
        query,
        ["id_type", "id_value", "customer_ref"],
        ["raw_value", "observed_at"],
        existing,
        staged,
    )


async def _consents(session: AsyncSession, stage: Table, staged: int) -> Applied:
    s = stage.c
    c = CUSTOMERS.c
    query = (
        select(
            c.id,
            s.purpose,
            s.status,
            s.recorded_at,
            s.source,
            literal(utcnow(), CONSENTS.c.created_at.type),
        )
        .join(CUSTOMERS, c.customer_id == s.customer_id)
        .where(true())
    )
    e = CONSENTS.c
    matched = and_(
        e.customer_ref == c.id,
        e.purpose == s.purpose,
        e.recorded_at == s.recorded_at,
        e.status == s.status,
    )
    existing = await _count(
        session,
        select(func.count())
        .select_from(stage)
        .join(CUSTOMERS, c.customer_id == s.customer_id)
        .join(CONSENTS, matched),
    )
    applied = await _upsert(
        session,
        CONSENTS,
        ["customer_ref", "purpose", "status", "recorded_at", "source", "created_at"],
        query,
        ["customer_ref", "purpose", "recorded_at", "status"],
        [],
        existing,
        staged,
    )
    if applied.inserted:
        # The state exports read follows the new events before this load commits.
        await refresh_consents(
            session,
            select(c.profile_id).select_from(stage).join(CUSTOMERS, c.customer_id == s.customer_id),
        )
    return applied


async def _transactions(session: AsyncSession, stage: Table, staged: int) -> Applied:
    s = stage.c
    c = CUSTOMERS.c
    fields = [
        "occurred_at",
        "sku",
        "quantity",
        "sales_value",
        "discount",
        "customer_id",
        "store_id",
        "channel",
    ]
    query = (
        select(s.transaction_id, s.line_ref, *(s[f] for f in fields), c.profile_id)
        .outerjoin(CUSTOMERS, c.customer_id == s.customer_id)
        .where(true())
    )
    t = TRANSACTIONS.c
    same_line = and_(t.transaction_id == s.transaction_id, t.line_ref == s.line_ref)
    existing = await _existing(session, stage, same_line, TRANSACTIONS)
    # Whose traits this load changes: the shoppers of the lines it writes, and of the
    # lines it overwrites (a corrected line may have moved to another shopper).
    await mark_stale(
        session,
        select(c.profile_id).select_from(stage).join(CUSTOMERS, c.customer_id == s.customer_id),
    )
    if existing:
        await mark_stale(
            session, select(t.profile_id).select_from(stage).join(TRANSACTIONS, same_line)
        )
    return await _upsert(
        session,
        TRANSACTIONS,
        ["transaction_id", "line_ref", *fields, "profile_id"],
        query,
        ["transaction_id", "line_ref"],
        [*fields, "profile_id"],
        existing,
        staged,
    )


APPLIERS = {
    "products": _products,
    "stores": _stores,
    "customers": _customers,
    "identifiers": _identifiers,
    "consents": _consents,
    "transactions": _transactions,
}
