"""Queries on partners."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.pagination import PageRequest, keyset
from endcap.partners.models import Partner, PartnerManufacturer


class PartnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, partner_id: uuid.UUID) -> Partner | None:
        return await self.session.get(Partner, partner_id)

    async def get_by_name(self, name: str) -> Partner | None:
        result = await self.session.exec(select(Partner).where(Partner.name == name))
        return result.first()

    async def add(self, partner: Partner) -> Partner:
        self.session.add(partner)
        await self.session.flush()
        return partner

    async def list_page(
        self, page: PageRequest, *, only_id: uuid.UUID | None = None
    ) -> list[Partner]:
        stmt = select(Partner)
        if only_id is not None:
            stmt = stmt.where(Partner.id == only_id)
        stmt = keyset(stmt, col(Partner.created_at), col(Partner.id), page)
        result = await self.session.exec(stmt)
        return list(result.all())

    async def manufacturer_id(self, name: str) -> int | None:
        query = select(Manufacturer.id).where(col(Manufacturer.name) == name)
        return (await self.session.exec(query)).first()

    async def link(self, partner_id: uuid.UUID, manufacturer_id: int) -> None:
        """Link once: linking again is a no-op."""
        if await self.session.get(PartnerManufacturer, (partner_id, manufacturer_id)) is None:
            self.session.add(
                PartnerManufacturer(partner_id=partner_id, manufacturer_id=manufacturer_id)
            )
            await self.session.flush()

    async def brands(self, partner_id: uuid.UUID) -> list[tuple[int, str, str]]:
        """(brand id, brand name, manufacturer name) for every brand the partner may promote."""
        query = (
            select(Brand.id, Brand.name, Manufacturer.name)
            .join(Manufacturer, col(Manufacturer.id) == col(Brand.manufacturer_id))
            .join(
                PartnerManufacturer,
                col(PartnerManufacturer.manufacturer_id) == col(Manufacturer.id),
            )
            .where(col(PartnerManufacturer.partner_id) == partner_id)
            .order_by(col(Manufacturer.name), col(Brand.name))
        )
        return [(int(i or 0), b, m) for i, b, m in (await self.session.exec(query)).all()]

    async def owned_skus(self, partner_id: uuid.UUID, skus: Collection[str]) -> set[str]:
        """Those of ``skus`` made by one of the partner's manufacturers."""
        if not skus:
            return set()
        query = (
            select(Product.sku)
            .join(Brand, col(Brand.id) == col(Product.brand_id))
            .join(
                PartnerManufacturer,
                col(PartnerManufacturer.manufacturer_id) == col(Brand.manufacturer_id),
            )
            .where(
                col(PartnerManufacturer.partner_id) == partner_id,
                col(Product.sku).in_(sorted(skus)),
            )
        )
        return set((await self.session.exec(query)).all())
