"""PartnerService: unique names, a brand sees only itself, and what a partner owns."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.errors import ConflictError, InvalidRequestError, NotFoundError
from endcap.pagination import PageRequest
from endcap.partners.models import OwnedVia, PartnerKind
from endcap.partners.schemas import BrandLink, ManufacturerLink, PartnerCreate
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


async def _catalog(session: AsyncSession, maker: str, brands: list[str]) -> dict[str, str]:
    """One product per brand of a new manufacturer; returns the SKU by brand name."""
    manufacturer = Manufacturer(name=maker)
    session.add(manufacturer)
    await session.flush()
    skus = {}
    for name in brands:
        brand = Brand(name=name, manufacturer_id=manufacturer.id or 0)
        session.add(brand)
        await session.flush()
        skus[name] = unique("sku")
        session.add(
            Product(
                sku=skus[name],
                name=f"{name} noodles",
                brand_id=brand.id or 0,
                department="Pantry",
                category="Noodles",
            )
        )
    await session.flush()
    return skus


async def test_a_partner_owns_a_brand_linked_alone_or_through_its_manufacturer(
    session: AsyncSession,
) -> None:
    partners = PartnerService(session)
    maker, other = unique("Orient Pantry"), unique("Asia Imports")
    skus = await _catalog(session, maker, ["Wok Master", "Spice Route"])
    elsewhere = await _catalog(session, other, ["Wok Master"])
    agency = await partners.create(PartnerCreate(name=unique("Agency"), kind=PartnerKind.AGENCY))
    asked = [skus["Spice Route"], skus["Wok Master"], elsewhere["Wok Master"]]

    await partners.link_brand(ADMIN, agency.id, BrandLink(brand="Wok Master", manufacturer=maker))
    assert await partners.foreign_skus(agency.id, asked) == [0, 2]

    brands = await partners.link_manufacturer(
        ADMIN, agency.id, ManufacturerLink(manufacturer=maker)
    )
    assert await partners.foreign_skus(agency.id, asked) == [2]
    assert [(b.name, b.via) for b in brands] == [
        ("Spice Route", OwnedVia.MANUFACTURER),
        ("Wok Master", OwnedVia.MANUFACTURER),
    ]


async def test_an_ambiguous_brand_name_lists_the_manufacturers_to_choose_from(
    session: AsyncSession,
) -> None:
    partners = PartnerService(session)
    name, makers = unique("Wok Master"), sorted([unique("Orient Pantry"), unique("Asia Imports")])
    for maker in makers:
        await _catalog(session, maker, [name])
    agency = await partners.create(PartnerCreate(name=unique("Agency"), kind=PartnerKind.AGENCY))

    with pytest.raises(InvalidRequestError, match="several manufacturers") as ambiguous:
        await partners.link_brand(ADMIN, agency.id, BrandLink(brand=name))

    assert ambiguous.value.extra["manufacturers"] == makers
    assert ambiguous.value.extra["errors"][0]["field"] == "/manufacturer"
    assert await partners.brands(ADMIN, agency.id) == []
