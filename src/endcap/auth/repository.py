"""Queries on API keys."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.models import ApiKey
from endcap.auth.roles import Role
from endcap.pagination import PageRequest, keyset


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def get_by_lookup(self, lookup: str) -> ApiKey | None:
        result = await self.session.exec(select(ApiKey).where(ApiKey.lookup == lookup))
        return result.first()

    async def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        await self.session.flush()
        return key

    async def list_page(
        self,
        page: PageRequest,
        *,
        role: Role | None = None,
        partner_id: uuid.UUID | None = None,
        include_revoked: bool = True,
    ) -> list[ApiKey]:
        stmt = select(ApiKey)
        if role is not None:
            stmt = stmt.where(ApiKey.role == role)
        if partner_id is not None:
            stmt = stmt.where(ApiKey.partner_id == partner_id)
        if not include_revoked:
            stmt = stmt.where(col(ApiKey.revoked_at).is_(None))
        stmt = keyset(stmt, col(ApiKey.created_at), col(ApiKey.id), page)
        result = await self.session.exec(stmt)
        return list(result.all())
