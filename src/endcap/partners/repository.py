"""Queries on partners."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import BindParameter, Subquery, Table, Uuid, bindparam, case, exists, literal, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.db.base import table_of
from endcap.db.bulk import dialect_insert
from endcap.db.types import utcnow
from endcap.pagination import PageRequest, keyset
from endcap.partners.models import OwnedVia, Partner, PartnerBrandLink, PartnerManufacturer

MANUFACTURER_LINKS = table_of(PartnerManufacturer)
BRAND_LINKS = table_of(PartnerBrandLink)


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
        """Link once: linking again, even at the same moment, is a no-op."""
        await self._link_once(
            MANUFACTURER_LINKS, partner_id=partner_id, manufacturer_id=manufacturer_id
        )

    async def link_brand(self, partner_id: uuid.UUID, brand_id: int) -> None:
        """Link once: linking again, even at the same moment, is a no-op."""
        await self._link_once(BRAND_LINKS, partner_id=partner_id, brand_id=brand_id)

    async def _link_once(self, table: Table, **key: Any) -> None:
        # Read-then-insert let two identical requests both see no link and both insert;
        # the loser failed on the primary key (a 500). ON CONFLICT DO NOTHING makes the
        # loser wait for the winner's row and then skip it, so both answer the same.
        insert = dialect_insert(self.session, table).values(**key, linked_at=utcnow())
        await self.session.execute(insert.on_conflict_do_nothing(index_elements=list(key)))

    async def brands_named(self, name: str) -> list[tuple[int, str]]:
        """(brand id, manufacturer name) of every brand called ``name``, by manufacturer name.

        Brand names are unique per manufacturer only, so there may be several.
        """
        query = (
            select(Brand.id, Manufacturer.name)
            .join(Manufacturer, col(Manufacturer.id) == col(Brand.manufacturer_id))
            .where(col(Brand.name) == name)
            .order_by(col(Manufacturer.name))
        )
        return [(int(i or 0), m) for i, m in (await self.session.exec(query)).all()]

    async def brands(self, partner_id: uuid.UUID) -> list[tuple[int, str, str, OwnedVia]]:
        """(brand id, brand name, manufacturer name, how owned) for every brand the partner
        may promote, by manufacturer and brand name."""
        owned = owned_brands(partner_id)
        query = (
            select(Brand.id, Brand.name, Manufacturer.name, owned.c.via)
            .join(owned, owned.c.brand_id == col(Brand.id))
            .join(Manufacturer, col(Manufacturer.id) == col(Brand.manufacturer_id))
            .order_by(col(Manufacturer.name), col(Brand.name))
        )
        return [
            (int(i or 0), b, m, OwnedVia(via))
            for i, b, m, via in (await self.session.exec(query)).all()
        ]

    async def owned_skus(self, partner_id: uuid.UUID, skus: Collection[str]) -> set[str]:
        """Those of ``skus`` whose brand the partner owns (directly or by its manufacturer)."""
        if not skus:
            return set()
        found = await self.session.execute(
            _OWNED_SKUS, {"p_partner": partner_id, "p_skus": sorted(skus)}
        )
        return set(found.scalars().all())


def owned_brands(partner_id: uuid.UUID | BindParameter[uuid.UUID]) -> Subquery:
    """The one rule of what a partner owns: (brand_id, via) for each brand it may promote.

    A brand is owned when its manufacturer is linked (via "manufacturer", which wins)
    or the brand itself is (via "brand"). Each brand appears once.
    """
    by_manufacturer = exists().where(
        col(PartnerManufacturer.partner_id) == partner_id,
        col(PartnerManufacturer.manufacturer_id) == col(Brand.manufacturer_id),
    )
    by_brand = exists().where(
        col(PartnerBrandLink.partner_id) == partner_id,
        col(PartnerBrandLink.brand_id) == col(Brand.id),
    )
    via = case(
        (by_manufacturer, literal(OwnedVia.MANUFACTURER.value)),
        else_=literal(OwnedVia.BRAND.value),
    )
    return (
        select(col(Brand.id).label("brand_id"), via.label("via"))
        .where(or_(by_manufacturer, by_brand))
        .subquery("owned_brands")
    )


# Every draft and booking checks its products: built once, so no request pays for
# building and keying the statement again.
_OWNED = owned_brands(bindparam("p_partner", type_=Uuid()))
_OWNED_SKUS = (
    select(col(Product.sku))
    .join(_OWNED, _OWNED.c.brand_id == col(Product.brand_id))
    .where(col(Product.sku).in_(bindparam("p_skus", expanding=True)))
)
