"""Activations of a campaign: the retailer starts them; the retailer and the campaign's
brand read them (the brand with rounded counts, and only its own)."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.schemas import ActivationPublic, ActivationRequest
from endcap.activation.service import ActivationService
from endcap.auth.guards import roles
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.config import Settings
from endcap.idempotency import IDEMPOTENT
from endcap.pagination import DEFAULT_PAGE_SIZE, Limit, Page, PageRequest


def provide_activations(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> ActivationService:
    return ActivationService(session, settings)


class ActivationController(Controller):
    tags = ["activations"]
    opt = roles(Role.RETAILER_ADMIN, Role.BRAND)
    dependencies = {"activations": Provide(provide_activations, sync_to_thread=False)}

    @post(
        "/campaigns/{campaign_id:uuid}/activations",
        status_code=202,
        summary="Export the campaign's treatment group to each of its channels, or to those"
        " the body names (jobs)",
        opt={**roles(Role.RETAILER_ADMIN), **IDEMPOTENT},
    )
    async def enqueue(
        self,
        campaign_id: FromPath[uuid.UUID],
        activations: NamedDependency[ActivationService],
        principal: NamedDependency[Principal],
        data: JSONBody[ActivationRequest | None] = None,
    ) -> list[ActivationPublic]:
        channels = [c.value for c in data.channels] if data else None
        return await activations.enqueue_campaign(campaign_id, principal.key_id, channels)

    @get(
        "/campaigns/{campaign_id:uuid}/activations",
        summary="A campaign's activations (a brand: its own campaigns, rounded counts)",
    )
    async def list_activations(
        self,
        campaign_id: FromPath[uuid.UUID],
        activations: NamedDependency[ActivationService],
        principal: NamedDependency[Principal],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[ActivationPublic]:
        page = PageRequest.parse(limit, cursor)
        return await activations.list_for(principal, campaign_id, page)

    @get(
        "/activations/{activation_id:uuid}",
        summary="One activation (a brand: its own campaigns, rounded counts)",
    )
    async def read(
        self,
        activation_id: FromPath[uuid.UUID],
        activations: NamedDependency[ActivationService],
        principal: NamedDependency[Principal],
    ) -> ActivationPublic:
        return await activations.get(principal, activation_id)
