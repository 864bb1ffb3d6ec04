from __future__ import annotations

from pydantic import BaseModel


class ProductPublic(BaseModel):
    sku: str
    name: str
    brand: str
    manufacturer: str
    department: str
    category: str
    subcategory: str | None
    private_label: bool
    package_size: str | None


class CategoryNode(BaseModel):
    department: str
    category: str
    subcategory: str | None
    products: int


class StorePublic(BaseModel):
    store_id: str
    name: str | None
    region: str | None
    format: str | None


class ProductPage(BaseModel):
    items: list[ProductPublic]
    next_cursor: str | None = None
