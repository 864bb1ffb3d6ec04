"""Partners over real HTTP: the admin manages them, a brand reads only its own."""

from __future__ import annotations

import uuid

import pytest

from endcap.auth.roles import Role
from endcap.client import EndcapAPIError, EndcapClient
from endcap.partners.models import PartnerKind
from tests.support.names import unique
from tests.support.server import ServerProcess


def test_admin_creates_and_reads_a_partner(admin: EndcapClient) -> None:
    name = unique("Nordic Dairy")
    created = admin.create_partner(name, PartnerKind.MANUFACTURER)

    assert created.name == name
    assert admin.get_partner(created.id) == created


@pytest.mark.parametrize("name", ["   ", " padded ", "ctrl\u202e", "bell\u0007"], ids=repr)
def test_a_blank_name_or_one_with_control_characters_is_422(admin: EndcapClient, name: str) -> None:
    with pytest.raises(EndcapAPIError) as refused:
        admin.create_partner(name)
    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.problem["errors"]] == ["/name"]


def test_duplicate_partner_name_is_409(admin: EndcapClient) -> None:
    name = unique("Twin")
    admin.create_partner(name)

    with pytest.raises(EndcapAPIError) as raised:
        admin.create_partner(name)
    assert raised.value.status == 409


def test_listing_follows_cursors_over_every_partner(admin: EndcapClient) -> None:
    made = {admin.create_partner(unique("Paged")).id for _ in range(5)}

    seen = [p.id for p in admin.iter_partners(limit=2)]

    assert made <= set(seen)
    assert len(seen) == len(set(seen)), "a partner appeared on two pages"


def test_brand_probing_another_partner_gets_the_same_404_as_for_nothing(
    admin: EndcapClient, brand: EndcapClient, brand_partner_id: uuid.UUID
) -> None:
    other = admin.create_partner(unique("Competitor"))

    assert brand.get_partner(brand_partner_id).id == brand_partner_id
    with pytest.raises(EndcapAPIError) as foreign:
        brand.get_partner(other.id)
    with pytest.raises(EndcapAPIError) as missing:
        brand.get_partner(uuid.uuid4())

    assert foreign.value.status == missing.value.status == 404
    assert foreign.value.type == missing.value.type
    assert set(foreign.value.problem) == set(missing.value.problem)
    assert other.name not in str(foreign.value.problem)
    listed = [p.id for p in brand.iter_partners()]
    assert listed == [brand_partner_id]


def test_brand_cannot_create_partners_or_keys(brand: EndcapClient) -> None:
    with pytest.raises(EndcapAPIError) as partner:
        brand.create_partner(unique("Sneaky"))
    with pytest.raises(EndcapAPIError) as key:
        brand.create_key("escalate", Role.RETAILER_ADMIN)
    assert partner.value.status == key.value.status == 403


def test_brand_key_of_a_new_partner_sees_only_that_partner(
    admin: EndcapClient, server: ServerProcess
) -> None:
    partner = admin.create_partner(unique("Fresh Brand"))
    key = admin.create_key("fresh", Role.BRAND, partner_id=partner.id)

    with EndcapClient(server.base_url, key.key) as fresh:
        assert [p.id for p in fresh.iter_partners()] == [partner.id]
