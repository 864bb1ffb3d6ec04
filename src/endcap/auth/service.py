"""Rules for API keys: who may hold which role, showing a secret once, revocation."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth import secrets
from endcap.auth.models import ApiKey
from endcap.auth.principal import Principal
from endcap.auth.repository import ApiKeyRepository, credential
from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from endcap.db.types import utcnow
from endcap.errors import AuthenticationError, ConflictError, InvalidRequestError, NotFoundError
from endcap.pagination import Page, PageRequest, next_cursor
from endcap.partners.service import PartnerService


class ApiKeyService:
    def __init__(self, session: AsyncSession, prefix: str) -> None:
        self.session = session
        self.keys = ApiKeyRepository(session)
        self.partners = PartnerService(session)
        self.prefix = prefix

    async def create(self, data: ApiKeyCreate) -> ApiKeyCreated:
        """Create a key; the plaintext is in the answer and nowhere else, ever.

        A brand key must name an existing partner; other roles must not name one.
        """
        if data.role is Role.BRAND:
            if data.partner_id is None:
                raise _field_error("/partner_id", "a brand key needs the partner it acts for")
            if not await self.partners.exists(data.partner_id):
                raise _field_error("/partner_id", f"no partner with id {data.partner_id}")
        elif data.partner_id is not None:
            raise _field_error(
                "/partner_id", f"only brand keys carry a partner, not {data.role} keys"
            )
        made = secrets.new_key(self.prefix)
        key = await self.keys.add(
            ApiKey(
                name=data.name,
                role=data.role,
                partner_id=data.partner_id,
                lookup=made.lookup,
                secret_digest=made.digest,
            )
        )
        return ApiKeyCreated(**self._public(key).model_dump(), key=made.plaintext)

    async def authenticate(self, presented: str) -> Principal:
        """The caller behind ``presented``; AuthenticationError if unknown, malformed or revoked."""
        return await authenticate(await self.session.connection(), presented, self.prefix)

    async def get(self, key_id: uuid.UUID) -> ApiKeyPublic:
        return self._public(await self._get(key_id))

    async def revoke(self, key_id: uuid.UUID, *, by: Principal) -> ApiKeyPublic:
        """Revoke at once; the next request with the key gets 401. Revoking twice is a conflict."""
        key = await self._get(key_id)
        if key.revoked_at is not None:
            raise ConflictError(
                "the API key is already revoked", revoked_at=key.revoked_at.isoformat()
            )
        if key.id == by.key_id:
            raise ConflictError("a key cannot revoke itself; use another admin key")
        key.revoked_at = utcnow()
        await self.keys.add(key)
        return self._public(key)

    async def list(
        self,
        page: PageRequest,
        *,
        role: Role | None = None,
        partner_id: uuid.UUID | None = None,
        include_revoked: bool = True,
    ) -> Page[ApiKeyPublic]:
        rows = await self.keys.list_page(
            page, role=role, partner_id=partner_id, include_revoked=include_revoked
        )
        kept, cursor = next_cursor(rows, page)
        return Page[ApiKeyPublic](items=[self._public(k) for k in kept], next_cursor=cursor)

    async def _get(self, key_id: uuid.UUID) -> ApiKey:
        key = await self.keys.get(key_id)
        if key is None:
            raise NotFoundError(f"no API key with id {key_id}")
        return key

    def _public(self, key: ApiKey) -> ApiKeyPublic:
        return ApiKeyPublic(
            id=key.id,
            name=key.name,
            role=key.role,
            partner_id=key.partner_id,
            prefix=f"{self.prefix}_{key.lookup}",
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


async def authenticate(connection: AsyncConnection, presented: str, prefix: str) -> Principal:
    """The caller behind ``presented``; AuthenticationError if unknown, malformed or revoked.

    On a bare connection: the middleware runs it for every request, outside the
    request's transaction.
    """
    lookup = secrets.split_lookup(presented, prefix)
    key = await credential(connection, lookup) if lookup else None
    if key is None or not secrets.matches(presented, key.secret_digest):
        raise AuthenticationError("the API key is not valid")
    if key.revoked_at is not None:
        raise AuthenticationError("the API key has been revoked")
    return Principal(key_id=key.id, role=Role(key.role), partner_id=key.partner_id)


def _field_error(field: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, errors=[{"field": field, "message": message}])
