"""Looking up profiles by any identifier, and showing a profile's key chain."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import IdentitySettings
from endcap.db.types import storable_id
from endcap.errors import InvalidRequestError, NotFoundError
from endcap.identity.models import Customer, IdType
from endcap.identity.normalize import InvalidIdentifierError, stored_value
from endcap.identity.repository import IdentityRepository
from endcap.identity.schemas import (
    CustomerPublic,
    IdentifierPublic,
    IdentifierQuery,
    LookupResult,
    MergePublic,
    ProfileView,
)

MAX_PROFILES_SHOWN = 20  # a house card can sit on thousands of records; a look-up shows a few


class IdentityService:
    def __init__(self, session: AsyncSession, settings: IdentitySettings) -> None:
        self.repository = IdentityRepository(session)
        self.settings = settings

    def stored(self, query: IdentifierQuery) -> str:
        try:
            return stored_value(
                query.id_type,
                query.value,
                region=self.settings.default_phone_region,
                is_hashed=query.is_hashed,
            )
        except InvalidIdentifierError as exc:
            raise InvalidRequestError(
                str(exc), errors=[{"field": "/value", "message": str(exc)}]
            ) from exc

    async def customers_for(self, query: IdentifierQuery) -> tuple[list[Customer], bool]:
        value = self.stored(query)
        customers = await self.repository.customers_by_identifier(query.id_type, value)
        shared = await self.repository.shared(query.id_type, value) is not None
        return customers, shared

    async def lookup(self, query: IdentifierQuery) -> LookupResult:
        """NotFoundError when no record carries the identifier."""
        customers, shared = await self.customers_for(query)
        if not customers:
            raise NotFoundError(f"no customer record carries that {query.id_type}")
        profile_ids = sorted({c.profile_id for c in customers if c.profile_id is not None})
        views = [await self.profile(p) for p in profile_ids[:MAX_PROFILES_SHOWN]]
        return LookupResult(shared=shared, customer_records=len(customers), profiles=views)

    async def profile(self, profile_id: int) -> ProfileView:
        if not storable_id(profile_id):
            raise NotFoundError(f"no profile with id {profile_id}")
        profile = await self.repository.profile(profile_id)
        customers = await self.repository.profile_customers(profile_id)
        if profile is None or profile.id is None:
            raise NotFoundError(f"no profile with id {profile_id}")
        names = {c.id: c.customer_id for c in customers}
        identifiers = await self.repository.identifiers_of(
            [c.id for c in customers if c.id is not None]
        )
        shared = {(s.id_type, s.id_value) for s in await self.repository.shared_among(identifiers)}
        return ProfileView(
            profile_id=profile.id,
            created_at=profile.created_at,
            customers=[
                CustomerPublic(customer_id=c.customer_id, attributes=c.attributes)
                for c in customers
            ],
            identifiers=[
                IdentifierPublic(
                    id_type=IdType(i.id_type),
                    value=i.id_value,
                    customer_id=names[i.customer_ref],
                    observed_at=i.observed_at,
                    shared=(i.id_type, i.id_value) in shared,
                )
                for i in sorted(identifiers, key=lambda i: (i.id_type, i.id_value, i.customer_ref))
            ],
            merges=[
                MergePublic(
                    kind=m.kind,
                    from_profile_id=m.from_profile_id,
                    into_profile_id=m.into_profile_id,
                    customers_moved=m.customers_moved,
                    happened_at=m.happened_at,
                )
                for m in await self.repository.merges_of(profile_id)
            ],
        )
