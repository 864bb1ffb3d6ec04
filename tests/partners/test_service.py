"""PartnerService: unique names, and a brand sees only itself."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.errors import ConflictError, NotFoundError
from endcap.pagination import PageRequest
from endcap.partners.models import PartnerKind
from endcap.partners.schemas import PartnerCreate
from endcap.partners.service import PartnerService
from tests.support.names import unique

ADMIN = Principal(key_id=uuid.uuid4(), role=Role.RETAILER_ADMIN, partner_id=None)


async def test_duplicate_name_is_a_conflict(session: AsyncSession) -> None:
    partners = PartnerService(session)
    name = unique("Acme")
    await partners.create(PartnerCreate(name=name))

    with pytest.raises(ConflictError, match="already exists"):
        await partners.create(PartnerCreate(name=name, kind=PartnerKind.AGENCY))


async def test_brand_sees_its_own_partner_and_no_other(session: AsyncSession) -> None:
    partners = PartnerService(session)
    mine = await partners.create(PartnerCreate(name=unique("Mine")))
    theirs = await partners.create(PartnerCreate(name=unique("Theirs")))
    brand = Principal(key_id=uuid.uuid4(), role=Role.BRAND, partner_id=mine.id)

    assert (await partners.get(brand, mine.id)).name == mine.name
    with pytest.raises(NotFoundError) as foreign:
        await partners.get(brand, theirs.id)
    with pytest.raises(NotFoundError) as missing:
        await partners.get(brand, uuid.uuid4())
    assert foreign.value.detail.replace(str(theirs.id), "<id>") == missing.value.detail.replace(
        missing.value.detail.rsplit(" ", 1)[1], "<id>"
    )
    listed = await partners.list(brand, PageRequest(limit=500))
    assert [p.id for p in listed.items] == [mine.id]
    everything = await partners.list(ADMIN, PageRequest(limit=500))
    assert {mine.id, theirs.id} <= {p.id for p in everything.items}
