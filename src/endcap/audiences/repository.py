"""Queries behind audience rules: catalog names for resolving targets, and counting."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.db.base import table_of
from endcap.db.types import UTCDateTime
from endcap.traits.models import ProfileTraits

PRODUCTS = table_of(Product)
BRANDS = table_of(Brand)
MANUFACTURERS = table_of(Manufacturer)
TRAITS = table_of(ProfileTraits)


class AudienceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def departments_and_categories(self) -> list[tuple[str, str]]:
        """Every (department, category) pair the catalog sells in."""
        p = PRODUCTS.c
        query = select(p.department, p.category).distinct()
        return [(d, c) for d, c in (await self.session.execute(query)).all()]

    async def brands(self) -> list[tuple[int, str, str]]:
        """Every brand as (id, name, manufacturer name)."""
        b, m = BRANDS.c, MANUFACTURERS.c
        query = select(b.id, b.name, m.name).join(MANUFACTURERS, m.id == b.manufacturer_id)
        return [(int(i), n, maker) for i, n, maker in (await self.session.execute(query)).all()]

    async def manufacturers(self) -> list[str]:
        return list((await self.session.execute(select(MANUFACTURERS.c.name))).scalars())

    async def sold_by_brands(self, brand_ids: Collection[int]) -> list[tuple[int, str, str]]:
        """(brand id, department, category) for every place these brands sell in."""
        if not brand_ids:
            return []
        p = PRODUCTS.c
        query = (
            select(p.brand_id, p.department, p.category)
            .where(p.brand_id.in_(sorted(brand_ids)))
            .distinct()
        )
        return [(int(i), d, c) for i, d, c in (await self.session.execute(query)).all()]

    async def spend_categories(self, spend: Table) -> frozenset[str]:
        """The categories with rows in ``spend`` (profile_spend or its sample's copy).

        A skip scan of the spend key: one probe of (level, key) per category, each the
        next key after the last, instead of reading every category row.
        """
        s = spend.c
        in_category = s.level == "category"
        first = select(func.min(s.key).label("key")).where(in_category)
        found = first.cte("spend_categories", recursive=True)
        after = select(func.min(s.key)).where(in_category, s.key > found.c.key)
        found = found.union_all(select(after.scalar_subquery()).where(found.c.key.is_not(None)))
        query = select(found.c.key).where(found.c.key.is_not(None))
        return frozenset((await self.session.execute(query)).scalars())

    async def latest_as_of(self) -> datetime | None:
        """The newest ``as_of`` among the traits (None when there are none)."""
        found = (await self.session.execute(select(func.max(TRAITS.c.as_of)))).scalar_one()
        if found is None:
            return None
        return UTCDateTime().process_result_value(found, self.session.bind.dialect)

    async def count(self, members: Select[Any]) -> int:
        """How many rows ``members`` returns (it lists each profile once: no DISTINCT needed)."""
        query = select(func.count()).select_from(members.subquery())
        return int((await self.session.execute(query)).scalar_one())
