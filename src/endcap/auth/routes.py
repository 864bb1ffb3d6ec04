"""API keys (retailer admin only) and "who am I" (any key)."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.key_changes import until_no_process_accepts
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Me
from endcap.auth.service import ApiKeyService
from endcap.config import Settings
from endcap.idempotency import idempotent_hiding
from endcap.pagination import DEFAULT_PAGE_SIZE, Limit, Page, PageRequest


def provide_key_service(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> ApiKeyService:
    return ApiKeyService(session, settings.auth.key_prefix)


class ApiKeyController(Controller):
    path = "/keys"
    tags = ["keys"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"keys": Provide(provide_key_service, sync_to_thread=False)}

    @post(
        "/",
        summary="Create an API key; its secret is shown in this answer only (a retry with the"
        " same Idempotency-Key gets the key's details with the secret as null)",
        opt=idempotent_hiding("key"),
    )
    async def create(
        self, data: JSONBody[ApiKeyCreate], keys: NamedDependency[ApiKeyService]
    ) -> ApiKeyCreated:
        return await keys.create(data)

    @get("/", summary="List API keys")
    async def list_keys(
        self,
        keys: NamedDependency[ApiKeyService],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        role: FromQuery[Role | None] = None,
        partner_id: FromQuery[uuid.UUID | None] = None,
        include_revoked: FromQuery[bool] = True,
    ) -> Page[ApiKeyPublic]:
        page = PageRequest.parse(limit, cursor)
        return await keys.list(
            page, role=role, partner_id=partner_id, include_revoked=include_revoked
        )

    @get("/{key_id:uuid}", summary="Read one API key (never its secret)")
    async def read(
        self, key_id: FromPath[uuid.UUID], keys: NamedDependency[ApiKeyService]
    ) -> ApiKeyPublic:
        return await keys.get(key_id)

    @post(
        "/{key_id:uuid}/revoke",
        status_code=200,
        summary="Revoke an API key: once answered, no server process accepts it",
    )
    async def revoke(
        self,
        key_id: FromPath[uuid.UUID],
        keys: NamedDependency[ApiKeyService],
        principal: NamedDependency[Principal],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> ApiKeyPublic:
        revoked = await keys.revoke(key_id, by=principal)
        # Committed here rather than at the boundary: the answer says the key is refused
        # everywhere, so it waits, after the commit, until no process can still cache it.
        await session.commit()
        await until_no_process_accepts(settings)
        return revoked


class MeController(Controller):
    path = "/me"
    tags = ["keys"]
    opt = roles(*Role)

    @get("/", summary="Who this API key speaks for")
    async def me(self, principal: NamedDependency[Principal]) -> Me:
        return Me(key_id=principal.key_id, role=principal.role, partner_id=principal.partner_id)
