"""Hand-built trait data for audience tests, written straight into the tables.

Every test first empties the trait tables inside its own (rolled-back)
transaction, so the audience universe is exactly what it inserts. Catalog names
carry a tag, because other tests may have committed a catalog of their own.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.db.base import table_of
from endcap.identity.models import Customer, Profile
from endcap.traits.models import (
    SPEND_SAMPLE,
    TRAITS_SAMPLE,
    ProfileSpend,
    ProfileTraits,
    ValueClusterLabel,
)

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
TRAITS_TABLE = table_of(ProfileTraits)
SPEND = table_of(ProfileSpend)
CUSTOMERS = table_of(Customer)
PROFILES = table_of(Profile)
_serial = itertools.count()


def new_tag() -> str:
    return uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class Item:
    """One product line of the test catalog."""

    department: str
    category: str
    brand: str
    maker: str


async def empty_the_universe(session: AsyncSession) -> None:
    for table in (TRAITS_TABLE, SPEND, TRAITS_SAMPLE, SPEND_SAMPLE):
        await session.execute(delete(table))


async def build_catalog(session: AsyncSession, items: Sequence[Item]) -> dict[tuple[str, str], int]:
    """Products for ``items``; returns brand ids by (brand, maker)."""
    makers: dict[str, Manufacturer] = {}
    for maker in dict.fromkeys(item.maker for item in items):
        makers[maker] = Manufacturer(name=maker)
        session.add(makers[maker])
    await session.flush()
    brands: dict[tuple[str, str], Brand] = {}
    for item in items:
        if (item.brand, item.maker) not in brands:
            brand = Brand(name=item.brand, manufacturer_id=makers[item.maker].id or 0)
            brands[(item.brand, item.maker)] = brand
            session.add(brand)
    await session.flush()
    for item in items:
        brand = brands[(item.brand, item.maker)]
        session.add(
            Product(
                sku=f"sku-{next(_serial)}-{uuid.uuid4().hex[:8]}",
                name=f"{item.brand} {item.category}",
                brand_id=brand.id or 0,
                department=item.department,
                category=item.category,
            )
        )
    await session.flush()
    return {key: brand.id or 0 for key, brand in brands.items()}


async def new_profiles(session: AsyncSession, count: int) -> list[int]:
    """Fresh profile ids, numbered after the highest as key-chain resolution numbers them
    (explicit ids: PostgreSQL's sequence is behind after a resolution)."""
    first = int((await session.execute(select(func.max(PROFILES.c.id)))).scalar_one() or 0) + 1
    ids = list(range(first, first + count))
    await insert_rows(session, PROFILES, [{"id": i, "created_at": AS_OF} for i in ids])
    return ids


async def insert_rows(session: AsyncSession, table: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    batch = list(rows)
    if batch:
        await session.execute(insert(table), batch)


async def issue_cluster_labels(session: AsyncSession, count: int) -> None:
    """Value-cluster labels 1 to ``count`` as a refresh issues them (rules may name only
    those, audiences/known_clusters.py), instead of whatever the database held."""
    labels = table_of(ValueClusterLabel)
    await session.execute(delete(labels))
    await insert_rows(
        session,
        labels,
        (
            {
                "label": label,
                "features": [],
                "centroid": [],
                "scaler_mean": [],
                "scaler_scale": [],
                "issued_at": AS_OF,
                "refreshed_at": AS_OF,
            }
            for label in range(1, count + 1)
        ),
    )


def traits_row(profile_id: int, **values: Any) -> dict[str, Any]:
    """A profile_traits row: the given values over dull defaults."""
    row: dict[str, Any] = {
        "profile_id": profile_id,
        "as_of": AS_OF,
        "first_purchase_at": AS_OF,
        "last_purchase_at": AS_OF,
        "baskets_52w": 1,
        "spend_52w": 0,
        "units_52w": 0,
        "avg_basket_value": 0,
        "baskets_total": 1,
        "mean_basket_value": 0,
        "online_share": 0.0,
        "promo_share": 0.0,
        "expected_baskets_12m": None,
        "p_alive": None,
        "clv_12m": None,
        "value_tier": None,
        "value_cluster": None,
    }
    row.update(values)
    return row


def spend_row(
    profile_id: int,
    level: str,
    key: str,
    w4: Any,
    w13: Any,
    w52: Any,
    units: tuple[Any, Any, Any] | None = None,
) -> dict[str, Any]:
    """A profile_spend row; ``units`` over 4, 13 and 52 weeks (default: one unit in each
    window with spend)."""
    u4, u13, u52 = units or tuple(1 if Decimal(str(w)) > 0 else 0 for w in (w4, w13, w52))
    return {
        "profile_id": profile_id,
        "level": level,
        "key": key,
        "spend_4w": w4,
        "spend_13w": w13,
        "spend_52w": w52,
        "units_4w": u4,
        "units_13w": u13,
        "units_52w": u52,
        "last_purchase_at": AS_OF,
    }


def customer_row(profile_id: int, attributes: Mapping[str, str]) -> dict[str, Any]:
    return {
        "customer_id": f"aud-{next(_serial)}-{uuid.uuid4().hex[:8]}",
        "profile_id": profile_id,
        "attributes": dict(attributes),
        "updated_at": AS_OF,
    }
