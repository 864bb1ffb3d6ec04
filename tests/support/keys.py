"""API keys and partners made straight in a database, the way `endcap keys create` does."""

from __future__ import annotations

import uuid

from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate
from endcap.auth.service import ApiKeyService
from endcap.config import DatabaseSettings
from endcap.db.session import standalone_session
from endcap.partners.schemas import PartnerCreate
from endcap.partners.service import PartnerService

KEY_PREFIX = "ek"


async def make_key(
    settings: DatabaseSettings, role: Role, partner_id: uuid.UUID | None = None
) -> str:
    async with standalone_session(settings) as session:
        created = await ApiKeyService(session, KEY_PREFIX).create(
            ApiKeyCreate(name=f"test {role}", role=role, partner_id=partner_id)
        )
    return created.key


async def make_partner(settings: DatabaseSettings, name: str) -> uuid.UUID:
    async with standalone_session(settings) as session:
        partner = await PartnerService(session).create(PartnerCreate(name=name))
    return partner.id
