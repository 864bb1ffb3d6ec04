"""Rules about partners: unique names, and a brand sees only its own partner."""

from __future__ import annotations

import builtins
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.principal import Principal
from endcap.errors import ConflictError, InvalidRequestError, NotFoundError
from endcap.pagination import Page, PageRequest, next_cursor
from endcap.partners.models import Partner
from endcap.partners.repository import PartnerRepository
from endcap.partners.schemas import ManufacturerLink, PartnerBrand, PartnerCreate, PartnerPublic


class PartnerService:
    def __init__(self, session: AsyncSession) -> None:
        self.partners = PartnerRepository(session)

    async def create(self, data: PartnerCreate) -> PartnerPublic:
        """Raises ConflictError when a partner of that name exists."""
        duplicate = ConflictError(f"a partner named {data.name!r} already exists")
        if await self.partners.get_by_name(data.name) is not None:
            raise duplicate
        try:
            partner = await self.partners.add(Partner(name=data.name, kind=data.kind))
        except IntegrityError as exc:  # a concurrent create won the race
            raise duplicate from exc
        return PartnerPublic.model_validate(partner, from_attributes=True)

    async def get(self, principal: Principal, partner_id: uuid.UUID) -> PartnerPublic:
        """A brand asking for any partner but its own gets NotFoundError, as for an unknown id."""
        partner = await self.partners.get(partner_id)
        if partner is None or (principal.is_brand and principal.partner_id != partner.id):
            raise NotFoundError(f"no partner with id {partner_id}")
        return PartnerPublic.model_validate(partner, from_attributes=True)

    async def exists(self, partner_id: uuid.UUID) -> bool:
        return await self.partners.get(partner_id) is not None

    async def list(self, principal: Principal, page: PageRequest) -> Page[PartnerPublic]:
        only = principal.partner_id if principal.is_brand else None
        rows, cursor = next_cursor(await self.partners.list_page(page, only_id=only), page)
        items = [PartnerPublic.model_validate(p, from_attributes=True) for p in rows]
        return Page[PartnerPublic](items=items, next_cursor=cursor)

    async def link_manufacturer(
        self, principal: Principal, partner_id: uuid.UUID, data: ManufacturerLink
    ) -> builtins.list[PartnerBrand]:
        """Let the partner promote (and report on) a manufacturer's brands; returns them all.

        InvalidRequestError when the catalog has no manufacturer of that name.
        """
        await self.get(principal, partner_id)
        manufacturer_id = await self.partners.manufacturer_id(data.manufacturer)
        if manufacturer_id is None:
            message = f"the catalog has no manufacturer named {data.manufacturer!r}"
            raise InvalidRequestError(
                message, errors=[{"field": "/manufacturer", "message": message}]
            )
        await self.partners.link(partner_id, manufacturer_id)
        return await self.brands(principal, partner_id)

    async def brands(
        self, principal: Principal, partner_id: uuid.UUID
    ) -> builtins.list[PartnerBrand]:
        await self.get(principal, partner_id)
        return [
            PartnerBrand(id=i, name=name, manufacturer=maker)
            for i, name, maker in await self.partners.brands(partner_id)
        ]

    async def foreign_skus(
        self, partner_id: uuid.UUID, skus: builtins.list[str]
    ) -> builtins.list[int]:
        """Positions in ``skus`` of products not made by one of the partner's manufacturers."""
        owned = await self.partners.owned_skus(partner_id, set(skus))
        return [i for i, sku in enumerate(skus) if sku not in owned]
