"""Rules about partners: unique names, and a brand sees only its own partner."""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.principal import Principal
from endcap.errors import ConflictError, InvalidRequestError, NotFoundError
from endcap.pagination import Page, PageRequest, next_cursor
from endcap.partners.models import Partner
from endcap.partners.repository import PartnerRepository
from endcap.partners.schemas import (
    BrandLink,
    ManufacturerLink,
    PartnerBrand,
    PartnerCreate,
    PartnerPublic,
)


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
            raise _invalid(
                "/manufacturer", f"the catalog has no manufacturer named {data.manufacturer!r}"
            )
        await self.partners.link(partner_id, manufacturer_id)
        return await self.brands(principal, partner_id)

    async def link_brand(
        self, principal: Principal, partner_id: uuid.UUID, data: BrandLink
    ) -> builtins.list[PartnerBrand]:
        """Let the partner promote (and report on) one brand, without its manufacturer's others;
        returns all the partner's brands.

        InvalidRequestError when the catalog has no brand of that name (``/brand``); when
        several manufacturers make one and none was named, or the one named does not
        (``/manufacturer``, with those that do in ``manufacturers``).
        """
        await self.get(principal, partner_id)
        await self.partners.link_brand(partner_id, await self._brand_id(data))
        return await self.brands(principal, partner_id)

    async def _brand_id(self, data: BrandLink) -> int:
        named = await self.partners.brands_named(data.brand)
        makers = [maker for _, maker in named]
        if not named:
            raise _invalid("/brand", f"the catalog has no brand named {data.brand!r}")
        if data.manufacturer is not None:
            named = [(i, maker) for i, maker in named if maker == data.manufacturer]
            if not named:
                raise _invalid(
                    "/manufacturer",
                    f"{data.manufacturer!r} makes no brand named {data.brand!r} "
                    f"(made by {_names(makers)})",
                    manufacturers=makers,
                )
        if len(named) > 1:
            raise _invalid(
                "/manufacturer",
                f"several manufacturers make a brand named {data.brand!r}; "
                f"name one of {_names(makers)}",
                manufacturers=makers,
            )
        return named[0][0]

    async def brands(
        self, principal: Principal, partner_id: uuid.UUID
    ) -> builtins.list[PartnerBrand]:
        """Brands of the partner's manufacturers and brands linked on their own, each once."""
        await self.get(principal, partner_id)
        return [
            PartnerBrand(id=i, name=name, manufacturer=maker, via=via)
            for i, name, maker, via in await self.partners.brands(partner_id)
        ]

    async def foreign_skus(
        self, partner_id: uuid.UUID, skus: builtins.list[str]
    ) -> builtins.list[int]:
        """Positions in ``skus`` of products whose brand the partner does not own (neither the
        brand itself nor its manufacturer is linked)."""
        owned = await self.partners.owned_skus(partner_id, set(skus))
        return [i for i, sku in enumerate(skus) if sku not in owned]


def _invalid(field: str, message: str, **extra: Any) -> InvalidRequestError:
    return InvalidRequestError(message, errors=[{"field": field, "message": message}], **extra)


def _names(names: builtins.list[str]) -> str:
    return ", ".join(repr(n) for n in names)
