"""Erasure requests (retailer admin)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.config import Settings
from endcap.idempotency import IDEMPOTENT
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest, Tombstone


class ErasureController(Controller):
    path = "/erasures"
    tags = ["privacy"]
    opt = roles(Role.RETAILER_ADMIN)

    @post(
        "/",
        status_code=200,
        summary="Erase a shopper everywhere; answers with the tombstone",
        opt=IDEMPOTENT,
    )
    async def erase(
        self,
        data: JSONBody[ErasureRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
    ) -> Tombstone:
        return await ErasureService(session, settings).erase(data, requested_by=principal.key_id)
