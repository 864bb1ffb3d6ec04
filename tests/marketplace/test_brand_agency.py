"""An agency that handles one brand of a manufacturer: it books that brand's products, and a
sibling brand's product is refused at its index with nothing stored, until the retailer links
the whole manufacturer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from endcap.auth.roles import Role
from endcap.client import EndcapAPIError
from endcap.partners.models import PartnerKind
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import Brand, Market, promotable
from tests.support.names import unique


@dataclass(frozen=True, slots=True)
class Siblings:
    """Two brands of one manufacturer, with a promotable product of each."""

    manufacturer: str
    brand: str
    sku: str
    sibling: str
    sibling_sku: str


@pytest.fixture(scope="module")
def siblings(market: Market) -> Siblings:
    with market.client(market.admin_key) as admin:
        products = promotable(admin)
    by_maker: dict[str, dict[str, str]] = {}
    for p in products:
        by_maker.setdefault(p.manufacturer, {}).setdefault(p.brand, p.sku)
    maker, brands = next((m, b) for m, b in sorted(by_maker.items()) if len(b) >= 2)
    (brand, sku), (sibling, sibling_sku) = sorted(brands.items())[:2]
    return Siblings(maker, brand, sku, sibling, sibling_sku)


def _agency(market: Market, siblings: Siblings) -> Brand:
    """A new agency partner, linked to ``siblings.brand`` alone, with a brand key."""
    with market.client(market.admin_key) as admin:
        partner = admin.create_partner(unique("One-brand agency"), PartnerKind.AGENCY)
        admin.link_brand(partner.id, siblings.brand, siblings.manufacturer)
        key = admin.create_key("one-brand agency", Role.BRAND, partner_id=partner.id)
    return Brand(partner.id, key.key, siblings.manufacturer, [siblings.sku])


def test_an_agency_for_one_brand_books_it_and_not_its_siblings(
    market: Market, siblings: Siblings
) -> None:
    agency = _agency(market, siblings)
    with market.client(agency.key) as brand, market.client(market.admin_key) as admin:
        owned = brand.partner_brands(agency.partner_id)
        with pytest.raises(EndcapAPIError) as refused:
            brand.create_campaign(
                **campaign_body(market, agency, skus=[siblings.sku, siblings.sibling_sku])
            )
        stored = brand.campaigns(limit=200).items

        booked = brand.book(brand.create_campaign(**campaign_body(market, agency)).id)
        item = admin.approval(booked.id)
        approved = admin.act(booked.id, "approve")
        admin.act(booked.id, "cancel")  # gives the capacity back to the other tests

    assert [(b.name, b.manufacturer, b.via) for b in owned] == [
        (siblings.brand, siblings.manufacturer, "brand")
    ]
    assert refused.value.status == 422
    (error,) = refused.value.problem["errors"]
    assert error["field"] == "/skus/1"
    assert siblings.sibling_sku in error["message"]
    assert stored == []  # nothing was kept of the refused draft
    assert booked.status == "submitted"
    assert booked.skus == [siblings.sku]
    products = next(c for c in item.checks if c.name == "products")
    assert products.passed, products.detail
    assert item.ready, [c for c in item.checks if not c.passed]
    assert approved.status == "approved"


def test_linking_the_manufacturer_as_well_opens_the_sibling_brands(
    market: Market, siblings: Siblings
) -> None:
    agency = _agency(market, siblings)
    body = campaign_body(market, agency, skus=[siblings.sibling_sku])
    with market.client(agency.key) as brand, market.client(market.admin_key) as admin:
        with pytest.raises(EndcapAPIError) as before:
            brand.create_campaign(**body)
        admin.link_manufacturer(agency.partner_id, siblings.manufacturer)
        draft = brand.create_campaign(**body)
        owned = brand.partner_brands(agency.partner_id)

    assert before.value.status == 422
    assert before.value.problem["errors"][0]["field"] == "/skus/0"
    assert draft.skus == [siblings.sibling_sku]
    names = [b.name for b in owned]
    assert {siblings.brand, siblings.sibling} <= set(names)
    assert len(names) == len(set(names))  # the brand linked both ways is listed once
    assert {b.via for b in owned} == {"manufacturer"}
    assert {b.manufacturer for b in owned} == {siblings.manufacturer}
