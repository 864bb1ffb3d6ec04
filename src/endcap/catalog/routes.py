"""The catalog, readable by every role (it holds no customer data)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.roles import Role
from endcap.catalog.schemas import CategoryNode, ProductPage, StorePublic
from endcap.catalog.service import CatalogService
from endcap.pagination import DEFAULT_PAGE_SIZE, Limit, Page


def provide_catalog(session: NamedDependency[AsyncSession]) -> CatalogService:
    return CatalogService(session)


class CatalogController(Controller):
    path = "/catalog"
    tags = ["catalog"]
    opt = roles(*Role)
    dependencies = {"catalog": Provide(provide_catalog, sync_to_thread=False)}

    @get("/products", summary="Products, by SKU, filtered by department, category or brand")
    async def products(
        self,
        catalog: NamedDependency[CatalogService],
        department: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        brand: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> ProductPage:
        return await catalog.products(
            cursor=cursor, limit=limit, department=department, category=category, brand=brand
        )

    @get("/categories", summary="The category tree with product counts")
    async def categories(self, catalog: NamedDependency[CatalogService]) -> list[CategoryNode]:
        return await catalog.categories()

    @get("/stores", summary="Stores, by store id")
    async def stores(
        self,
        catalog: NamedDependency[CatalogService],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[StorePublic]:
        return await catalog.stores(cursor=cursor, limit=limit)
