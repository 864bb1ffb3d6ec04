"""Reading the catalog. Products are not customer data: every role may browse them."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.repository import CatalogRepository
from endcap.catalog.schemas import CategoryNode, ProductPage, ProductPublic, StorePublic
from endcap.pagination import Page, decode_key, next_key


class CatalogService:
    def __init__(self, session: AsyncSession) -> None:
        self.catalog = CatalogRepository(session)

    async def products(
        self,
        *,
        cursor: str | None,
        limit: int,
        department: str | None = None,
        category: str | None = None,
        brand: str | None = None,
    ) -> ProductPage:
        rows = await self.catalog.products(
            after=decode_key(cursor),
            limit=limit,
            department=department,
            category=category,
            brand=brand,
        )
        items = [
            ProductPublic(
                sku=p.sku,
                name=p.name,
                brand=brand_name,
                manufacturer=maker,
                department=p.department,
                category=p.category,
                subcategory=p.subcategory,
                private_label=p.private_label,
                package_size=p.package_size,
            )
            for p, brand_name, maker in rows[:limit]
        ]
        return ProductPage(items=items, next_cursor=next_key(items, len(rows), limit, "sku"))

    async def placements(self, skus: list[str]) -> dict[str, tuple[str, str]]:
        """Where each known SKU sits: (department, category); unknown SKUs are left out."""
        return await self.catalog.placements(skus)

    async def categories(self) -> list[CategoryNode]:
        return [
            CategoryNode(department=d, category=c, subcategory=s, products=n)
            for d, c, s, n in await self.catalog.categories()
        ]

    async def stores(self, *, cursor: str | None, limit: int) -> Page[StorePublic]:
        rows = await self.catalog.stores(after=decode_key(cursor), limit=limit)
        items = [StorePublic.model_validate(s, from_attributes=True) for s in rows[:limit]]
        return Page[StorePublic](
            items=items, next_cursor=next_key(items, len(rows), limit, "store_id")
        )
