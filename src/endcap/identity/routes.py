"""Profiles and key chains, for the retailer admin (customer-level data)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.roles import Role
from endcap.config import Settings
from endcap.consent.schemas import ConsentState
from endcap.consent.service import ConsentService
from endcap.identity.schemas import IdentifierQuery, LookupResult, ProfileView
from endcap.identity.service import IdentityService


def provide_identity(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> IdentityService:
    return IdentityService(session, settings.identity)


class ProfileController(Controller):
    path = "/profiles"
    tags = ["identity"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"identity": Provide(provide_identity, sync_to_thread=False)}

    @post(
        "/lookup",
        status_code=200,
        summary="Find profiles by any identifier (e-mail, phone, card, ...)",
    )
    async def lookup(
        self, data: JSONBody[IdentifierQuery], identity: NamedDependency[IdentityService]
    ) -> LookupResult:
        return await identity.lookup(data)

    @get("/{profile_id:int}", summary="A profile's key chain: records, identifiers, merge history")
    async def read(
        self, profile_id: FromPath[int], identity: NamedDependency[IdentityService]
    ) -> ProfileView:
        return await identity.profile(profile_id)

    @get(
        "/{profile_id:int}/consents",
        summary="Current consent per purpose, and the ledger behind it",
    )
    async def consents(
        self, profile_id: FromPath[int], session: NamedDependency[AsyncSession]
    ) -> ConsentState:
        return await ConsentService(session).state(profile_id)
