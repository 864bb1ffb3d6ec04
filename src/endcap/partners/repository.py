"""Queries on partners."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.pagination import PageRequest, keyset
from endcap.partners.models import Partner


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
