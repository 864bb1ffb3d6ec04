"""Partners: the retailer admin manages them; a brand reads its own."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.idempotency import IDEMPOTENT
from endcap.pagination import DEFAULT_PAGE_SIZE, Limit, Page, PageRequest
from endcap.partners.schemas import (
    BrandLink,
    ManufacturerLink,
    PartnerBrand,
    PartnerCreate,
    PartnerPublic,
)
from endcap.partners.service import PartnerService


def provide_partner_service(session: NamedDependency[AsyncSession]) -> PartnerService:
    return PartnerService(session)


class PartnerController(Controller):
    path = "/partners"
    tags = ["partners"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"partners": Provide(provide_partner_service, sync_to_thread=False)}

    @post("/", summary="Register a brand partner (manufacturer or agency)", opt=IDEMPOTENT)
    async def create(
        self, data: JSONBody[PartnerCreate], partners: NamedDependency[PartnerService]
    ) -> PartnerPublic:
        return await partners.create(data)

    @get(
        "/",
        summary="List partners (a brand sees only its own)",
        opt=roles(Role.RETAILER_ADMIN, Role.BRAND),
    )
    async def list_partners(
        self,
        partners: NamedDependency[PartnerService],
        principal: NamedDependency[Principal],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[PartnerPublic]:
        return await partners.list(principal, PageRequest.parse(limit, cursor))

    @get("/{partner_id:uuid}", summary="Read a partner", opt=roles(Role.RETAILER_ADMIN, Role.BRAND))
    async def read(
        self,
        partner_id: FromPath[uuid.UUID],
        partners: NamedDependency[PartnerService],
        principal: NamedDependency[Principal],
    ) -> PartnerPublic:
        return await partners.get(principal, partner_id)

    @post(
        "/{partner_id:uuid}/manufacturers",
        status_code=200,
        summary="Let a partner promote a manufacturer's brands; returns all its brands",
    )
    async def link_manufacturer(
        self,
        partner_id: FromPath[uuid.UUID],
        data: JSONBody[ManufacturerLink],
        partners: NamedDependency[PartnerService],
        principal: NamedDependency[Principal],
    ) -> list[PartnerBrand]:
        """Idempotent: a repeat, even one sent at the same moment, changes nothing and answers
        the same 200 and brands as the first (200, not 201: a link is not a resource of its
        own, and the answer is the partner's brands either way)."""
        return await partners.link_manufacturer(principal, partner_id, data)

    @post(
        "/{partner_id:uuid}/brands",
        status_code=200,
        summary="Let a partner promote one brand alone; returns all its brands",
    )
    async def link_brand(
        self,
        partner_id: FromPath[uuid.UUID],
        data: JSONBody[BrandLink],
        partners: NamedDependency[PartnerService],
        principal: NamedDependency[Principal],
    ) -> list[PartnerBrand]:
        """Idempotent, like linking a manufacturer: every repeat answers the same 200."""
        return await partners.link_brand(principal, partner_id, data)

    @get(
        "/{partner_id:uuid}/brands",
        summary="The brands a partner may promote: its manufacturers' and those linked alone",
        opt=roles(Role.RETAILER_ADMIN, Role.BRAND),
    )
    async def brands(
        self,
        partner_id: FromPath[uuid.UUID],
        partners: NamedDependency[PartnerService],
        principal: NamedDependency[Principal],
    ) -> list[PartnerBrand]:
        return await partners.brands(principal, partner_id)
