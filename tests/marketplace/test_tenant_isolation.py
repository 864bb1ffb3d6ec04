"""Brand B walks every brand-scoped route of the app with brand A's ids: each answer is the
404 an unknown id gets, word for word, and no list shows B a row of A's.

The routes are read from the app itself, so a route added later is walked too.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from endcap.app import create_app
from endcap.auth.guards import allowed_roles
from endcap.auth.roles import Role
from endcap.client import EndcapAPIError, EndcapClient
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import Market

# Path parameters that name something a partner owns (audiences are the shared catalog).
OWNED = ("campaign_id", "partner_id", "activation_id")
PARAM = re.compile(r"\{(\w+):\w+\}")
# What the walker sends where a route needs more than ids.
FILL = {"action": "cancel"}


def _brand_routes(*, owned_only: bool = True) -> list[tuple[str, str]]:
    """The routes a brand key may call: those naming an id a partner owns, or all."""
    routes = []
    for route in create_app().routes:
        for method, handler in getattr(route, "route_handler_map", {}).items():
            if method == "OPTIONS" or Role.BRAND not in allowed_roles(handler[0]):
                continue
            if not owned_only or set(PARAM.findall(route.path)) & set(OWNED):
                routes.append((method, route.path))
    return sorted(routes)


@pytest.fixture(scope="module")
def a_ids(market: Market) -> dict[str, uuid.UUID]:
    """A's campaign, scheduled so that it has activations too."""
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        campaign = brand.book(brand.create_campaign(**campaign_body(market, market.a)).id)
        admin.act(campaign.id, "approve")
        admin.act(campaign.id, "schedule")
        activations = admin.request("GET", f"/api/v1/campaigns/{campaign.id}/activations").json()
    return {
        "campaign_id": campaign.id,
        "partner_id": market.a.partner_id,
        "activation_id": uuid.UUID(activations["items"][0]["id"]),
    }


def _call(client: EndcapClient, method: str, path: str, ids: dict[str, Any]) -> dict[str, Any]:
    url = PARAM.sub(lambda m: str(ids.get(m.group(1), FILL.get(m.group(1), ""))), path)
    body = {"name": "probe"} if method in ("PATCH", "PUT") else None
    with pytest.raises(EndcapAPIError) as refused:
        client.request(method, url, json=body, headers={"If-Match": '"1"'})
    return {"status": refused.value.status, **refused.value.problem}


def test_every_brand_route_hides_another_partners_ids(
    market: Market, a_ids: dict[str, uuid.UUID]
) -> None:
    routes = _brand_routes()
    unknown = {name: uuid.uuid4() for name in OWNED}
    assert len(routes) >= 8, routes  # campaigns, their actions, events, activations, partners
    with market.client(market.b.key) as b:
        for method, path in routes:
            foreign = _call(b, method, path, a_ids)
            missing = _call(b, method, path, unknown)
            assert foreign["status"] == 404, (method, path, foreign)
            assert foreign["type"] == missing["type"]
            masked = [
                str(answer["detail"]).replace(str(ids[name]), "<id>")
                for answer, ids in ((foreign, a_ids), (missing, unknown))
                for name in OWNED
                if str(ids[name]) in str(answer["detail"])
            ]
            assert len(set(masked)) == 1, (method, path, masked)


def test_no_list_shows_another_partners_rows(market: Market, a_ids: dict[str, uuid.UUID]) -> None:
    with market.client(market.b.key) as b:
        own = b.create_campaign(**campaign_body(market, market.b))
        campaigns = b.campaigns(limit=200).items
        asked_for_a = b.campaigns(limit=200, partner_id=market.a.partner_id).items
        partners = b.list_partners().items
        catalog = b.request("GET", "/api/v1/catalog/audiences", params={"limit": 500}).json()
        assert catalog["next_cursor"] is None
        catalog = catalog["items"]
    assert own.id in {c.id for c in campaigns}
    assert asked_for_a == []  # filtered within its own, as the retailer's list would be
    assert all(c.partner_id == market.b.partner_id for c in campaigns + asked_for_a)
    assert a_ids["campaign_id"] not in {c.id for c in campaigns + asked_for_a}
    assert [p.id for p in partners] == [market.b.partner_id]
    assert str(market.a.partner_id) not in str(catalog)


def test_no_brand_read_of_its_own_mentions_another_partners_ids(
    market: Market, a_ids: dict[str, uuid.UUID]
) -> None:
    """Every GET a brand may call (lists included), walked with B's own ids where it names
    one: none of the answers holds an id of A's campaign, activation or partner."""
    with market.client(market.b.key) as b, market.client(market.admin_key) as admin:
        own = b.book(b.create_campaign(**campaign_body(market, market.b)).id)
        admin.act(own.id, "approve")
        admin.act(own.id, "schedule")
        activations = b.request("GET", f"/api/v1/campaigns/{own.id}/activations").json()
        b_ids = {
            "campaign_id": own.id,
            "partner_id": market.b.partner_id,
            "activation_id": uuid.UUID(activations["items"][0]["id"]),
        }
        reads = sorted(
            path for method, path in _brand_routes(owned_only=False) if method == "GET"
        )  # fmt: skip
        walked = []
        for path in reads:
            names = set(PARAM.findall(path))
            if not names <= set(OWNED):
                continue  # a route naming something else (a job, a product): not a tenant's
            answer = b.request("GET", PARAM.sub(lambda m: str(b_ids[m.group(1)]), path))
            walked.append(path)
            for name, foreign in a_ids.items():
                assert str(foreign) not in answer.text, (path, name)
    assert "/api/v1/campaigns/{campaign_id:uuid}/activations" in walked
    assert "/api/v1/campaigns/{campaign_id:uuid}/events" in walked
    assert "/api/v1/campaigns" in walked


def test_a_brand_cannot_act_for_another_partner(market: Market) -> None:
    body = campaign_body(market, market.b, partner_id=market.a.partner_id)
    with market.client(market.b.key) as b, pytest.raises(EndcapAPIError) as refused:
        b.create_campaign(**body)
    assert refused.value.status == 422
    assert refused.value.problem["errors"][0]["field"] == "/partner_id"
