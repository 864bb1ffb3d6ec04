"""Linking a partner to one brand over real HTTP: an agency for "Wok Master" gets that brand
and not Orient Pantry's others; a brand name two manufacturers share must name its maker;
identical links sent at once all succeed and link once."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from endcap.auth.roles import Role
from endcap.client import EndcapAPIError, EndcapClient
from endcap.partners.models import PartnerBrandLink, PartnerKind, PartnerManufacturer
from endcap.partners.schemas import PartnerBrand
from tests.support.names import unique
from tests.support.server import ServerProcess


@dataclass(frozen=True, slots=True)
class Catalog:
    maker: str  # three brands: wok, spice and the maker's own
    other_maker: str  # also makes a brand called ``wok``
    wok: str
    spice: str


@pytest.fixture(scope="module")
def catalog(
    server: ServerProcess, admin_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Catalog:
    t = uuid.uuid4().hex[:6]
    c = Catalog(f"Orient Pantry {t}", f"Asia Imports {t}", f"Wok Master {t}", f"Spice Route {t}")
    rows = [
        (c.wok, c.maker),
        (c.spice, c.maker),
        (c.maker, c.maker),
        (c.wok, c.other_maker),
    ]
    path = tmp_path_factory.mktemp("brand-links") / "products.csv"
    path.write_text(
        "sku,name,brand,manufacturer,category,department\n"
        + "".join(f"{t}-{i},Item {i},{b},{m},Noodles,Pantry\n" for i, (b, m) in enumerate(rows)),
        encoding="utf-8",
    )
    with EndcapClient(server.base_url, admin_key) as admin:
        assert admin.wait(admin.upload("products", path).id).status == "succeeded"
    return c


def _agency(admin: EndcapClient) -> uuid.UUID:
    return admin.create_partner(unique("Wok Agency"), PartnerKind.AGENCY).id


def test_one_brand_is_linked_alone_then_its_manufacturer_brings_the_rest_once(
    admin: EndcapClient, catalog: Catalog, server: ServerProcess
) -> None:
    agency = _agency(admin)

    linked = admin.link_brand(agency, catalog.wok, catalog.maker)
    again = admin.link_brand(agency, catalog.wok, catalog.maker)  # a no-op

    assert [(b.name, b.manufacturer, b.via) for b in linked] == [
        (catalog.wok, catalog.maker, "brand")
    ]
    assert again == linked == admin.partner_brands(agency)
    key = admin.create_key("wok agency", Role.BRAND, partner_id=agency)
    with EndcapClient(server.base_url, key.key) as own:
        assert own.partner_brands(agency) == linked

    everything = admin.link_manufacturer(agency, catalog.maker)

    assert [(b.name, b.manufacturer, b.via) for b in everything] == [
        (catalog.maker, catalog.maker, "manufacturer"),
        (catalog.spice, catalog.maker, "manufacturer"),
        (catalog.wok, catalog.maker, "manufacturer"),  # linked both ways, listed once
    ]
    assert everything == admin.partner_brands(agency)
    assert linked[0].id in {b.id for b in everything}


def test_a_brand_name_two_manufacturers_share_needs_the_manufacturer(
    admin: EndcapClient, catalog: Catalog
) -> None:
    agency = _agency(admin)

    with pytest.raises(EndcapAPIError) as ambiguous:
        admin.link_brand(agency, catalog.wok)

    assert ambiguous.value.status == 422
    problem = ambiguous.value.problem
    assert [e["field"] for e in problem["errors"]] == ["/manufacturer"]
    assert catalog.maker in problem["detail"]
    assert catalog.other_maker in problem["detail"]
    assert problem["manufacturers"] == [catalog.other_maker, catalog.maker]  # by name
    assert admin.partner_brands(agency) == []

    (chosen,) = admin.link_brand(agency, catalog.wok, catalog.other_maker)
    assert (chosen.name, chosen.manufacturer, chosen.via) == (
        catalog.wok,
        catalog.other_maker,
        "brand",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"brand": "No Such Brand"}, "/brand"),
        ({"brand": "{spice}", "manufacturer": "{other_maker}"}, "/manufacturer"),
        ({"brand": "{spice}", "manufacturer": "No Such Maker"}, "/manufacturer"),
        ({"brand": ""}, "/brand"),
        ({"brand": "{spice}", "sku": "x"}, "/sku"),
    ],
    ids=["unknown-brand", "maker-without-it", "unknown-maker", "empty", "extra-field"],
)
def test_bad_links_are_422_naming_the_field_and_link_nothing(
    admin: EndcapClient, catalog: Catalog, body: dict[str, str], field: str
) -> None:
    agency = _agency(admin)
    names = {"spice": catalog.spice, "other_maker": catalog.other_maker}
    sent = {k: v.format(**names) for k, v in body.items()}

    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", f"/api/v1/partners/{agency}/brands", json=sent)

    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.problem["errors"]] == [field]
    assert admin.partner_brands(agency) == []


def test_unknown_partner_is_404(admin: EndcapClient, catalog: Catalog) -> None:
    with pytest.raises(EndcapAPIError) as missing:
        admin.link_brand(uuid.uuid4(), catalog.spice)
    assert missing.value.status == 404


def test_a_brand_key_may_not_link_and_sees_no_other_partners_brands(
    admin: EndcapClient, brand: EndcapClient, brand_partner_id: uuid.UUID, catalog: Catalog
) -> None:
    other = _agency(admin)
    admin.link_brand(other, catalog.spice)

    with pytest.raises(EndcapAPIError) as forbidden:
        brand.link_brand(brand_partner_id, catalog.spice)
    with pytest.raises(EndcapAPIError) as foreign:
        brand.partner_brands(other)
    with pytest.raises(EndcapAPIError) as missing:
        brand.partner_brands(uuid.uuid4())

    assert forbidden.value.status == 403
    assert catalog.spice not in {b.name for b in admin.partner_brands(brand_partner_id)}
    assert foreign.value.status == missing.value.status == 404
    assert foreign.value.type == missing.value.type
    assert catalog.spice not in str(foreign.value.problem)


async def _post_at_once(
    server: ServerProcess, admin_key: str, path: str, body: dict[str, str], times: int
) -> list[httpx.Response]:
    """``times`` identical POSTs in flight together, each on its own connection."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    limits = httpx.Limits(max_connections=times)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, limits=limits) as http:
        # Open every connection first, so that the POSTs leave together instead of one
        # running ahead while the others still connect.
        await asyncio.gather(*(http.get("/health/live") for _ in range(times)))
        return list(await asyncio.gather(*(http.post(path, json=body) for _ in range(times))))


@pytest.mark.parametrize("link", [PartnerBrandLink, PartnerManufacturer])
async def test_identical_links_at_once_all_answer_200_and_link_once(
    admin: EndcapClient,
    catalog: Catalog,
    server: ServerProcess,
    admin_key: str,
    engine: AsyncEngine,
    link: type[PartnerBrandLink | PartnerManufacturer],
) -> None:
    # Three partners, ten requests each: one burst may happen to run in order, three rarely do.
    for agency in [_agency(admin) for _ in range(3)]:
        if link is PartnerBrandLink:
            path, body = f"/api/v1/partners/{agency}/brands", {"brand": catalog.spice}
        else:
            path = f"/api/v1/partners/{agency}/manufacturers"
            body = {"manufacturer": catalog.maker}

        responses = await _post_at_once(server, admin_key, path, body, times=10)

        assert [r.status_code for r in responses] == [200] * 10  # was one 200, then 500s
        assert len({r.text for r in responses}) == 1, "every caller gets the same brands"
        listed = [PartnerBrand.model_validate(b) for b in responses[0].json()]
        assert listed == admin.partner_brands(agency) != []
        async with engine.connect() as connection:
            rows = await connection.scalar(
                select(func.count()).select_from(link).where(col(link.partner_id) == agency)
            )
        assert rows == 1
