"""Queries on the catalog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product, Store


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def products(
        self,
        *,
        after: str | None,
        limit: int,
        department: str | None,
        category: str | None,
        brand: str | None,
    ) -> list[Any]:
        query = (
            select(Product, col(Brand.name), col(Manufacturer.name))
            .join(Brand, col(Brand.id) == col(Product.brand_id))
            .join(Manufacturer, col(Manufacturer.id) == col(Brand.manufacturer_id))
        )
        if after is not None:
            query = query.where(col(Product.sku) > after)
        if department:
            query = query.where(col(Product.department) == department)
        if category:
            query = query.where(col(Product.category) == category)
        if brand:
            query = query.where(col(Brand.name) == brand)
        rows = await self.session.exec(query.order_by(col(Product.sku)).limit(limit + 1))
        return list(rows.all())

    async def placements(self, skus: list[str]) -> dict[str, tuple[str, str]]:
        """(department, category) of each of ``skus`` the catalog holds."""
        query = select(Product.sku, Product.department, Product.category).where(
            col(Product.sku).in_(sorted(set(skus)))
        )
        return {sku: (d, c) for sku, d, c in (await self.session.exec(query)).all()}

    async def categories(self) -> list[Any]:
        p = Product
        query = (
            select(col(p.department), col(p.category), col(p.subcategory), func.count())
            .group_by(col(p.department), col(p.category), col(p.subcategory))
            .order_by(col(p.department), col(p.category), col(p.subcategory))
        )
        return list((await self.session.exec(query)).all())

    async def stores(self, *, after: str | None, limit: int) -> list[Store]:
        """Up to ``limit`` + 1 stores after the store id ``after``, by store id (the extra
        one says whether there are more)."""
        query = select(Store).order_by(col(Store.store_id)).limit(limit + 1)
        if after is not None:
            query = query.where(col(Store.store_id) > after)
        return list((await self.session.exec(query)).all())
