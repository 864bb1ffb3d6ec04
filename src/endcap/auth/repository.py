"""Queries on API keys."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, bindparam
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.models import ApiKey
from endcap.auth.roles import Role
from endcap.db.base import table_of
from endcap.pagination import PageRequest, keyset

_KEYS = table_of(ApiKey)
# Every request runs this, so it is Core and built once: what authentication needs only.
_CREDENTIAL = core_select(
    _KEYS.c.id, _KEYS.c.role, _KEYS.c.partner_id, _KEYS.c.secret_digest, _KEYS.c.revoked_at
).where(_KEYS.c.lookup == bindparam("p_lookup"))


async def credential(connection: AsyncConnection, lookup: str) -> Row[Any] | None:
    """(id, role, partner_id, secret_digest, revoked_at) of the key with this lookup part."""
    return (await connection.execute(_CREDENTIAL, {"p_lookup": lookup})).first()


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

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
