"""Recording consent events, as the retailer's consent tool would."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.roles import Role
from endcap.consent.schemas import ConsentEventPublic, ConsentRecord
from endcap.consent.service import ConsentService
from endcap.idempotency import IDEMPOTENT


class ConsentController(Controller):
    path = "/consents"
    tags = ["consent"]
    opt = roles(Role.RETAILER_ADMIN)

    @post(
        "/",
        summary="Append a grant or withdrawal for one purpose; effective at the next export",
        opt=IDEMPOTENT,
    )
    async def record(
        self, data: JSONBody[ConsentRecord], session: NamedDependency[AsyncSession]
    ) -> ConsentEventPublic:
        return await ConsentService(session).record(data)
