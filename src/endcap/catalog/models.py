"""Catalog tables. Small, so they become reference tables when distributed (infra/README.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, JsonDocument, UTCDateTime, utcnow


class Manufacturer(SQLModel, table=True):
    __tablename__ = "manufacturers"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False, unique=True))


class Brand(SQLModel, table=True):
    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("manufacturer_id", "name"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    manufacturer_id: int = Field(
        sa_column=Column(BigId, ForeignKey("manufacturers.id"), nullable=False, index=True)
    )
    private_label: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))


class Product(SQLModel, table=True):
    __tablename__ = "products"
    __table_args__ = (Index(None, "department", "category", "subcategory"),)

    sku: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    brand_id: int = Field(
        sa_column=Column(BigId, ForeignKey("brands.id"), nullable=False, index=True)
    )
    department: str = Field(sa_column=Column(String(120), nullable=False))
    category: str = Field(sa_column=Column(String(120), nullable=False))
    subcategory: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    private_label: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    package_size: str | None = Field(default=None, sa_column=Column(String(60), nullable=True))
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonDocument, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Store(SQLModel, table=True):
    __tablename__ = "stores"

    store_id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    region: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    format: str | None = Field(default=None, sa_column=Column(String(60), nullable=True))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
