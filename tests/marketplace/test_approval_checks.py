"""The approver's checks over the real server: each failing check blocks approval with a
409 ``checks-failed`` naming it, and the approval queue shows it failed.

Checks that depend on retailer settings changed after booking (a higher minimum, more
sensitive categories) are read from a second server on the same database with those
settings, as after a redeploy; it runs no worker, so it takes no job of the package's.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from endcap.audiences.schemas import AudiencePublic
from endcap.auth.roles import Role
from endcap.client import EndcapAPIError, EndcapClient
from endcap.marketplace.approvals import ApprovalService
from endcap.marketplace.models import Campaign
from endcap.marketplace.schemas import ApprovalItem, CampaignPublic, Check
from endcap.partners.models import PartnerKind
from endcap.privacy.settings import SENSITIVE_DEPARTMENTS
from tests.audiences.http import create, refresh
from tests.marketplace.booking import campaign_body, next_monday
from tests.marketplace.conftest import MIN_AUDIENCE, Brand, Market
from tests.support.names import unique
from tests.support.retailer import unique_postal_codes
from tests.support.server import ServerProcess

# Made sensitive after the audiences below were published: a rule's purchase target, a
# propensity target and a lookalike's feature. None is in a sensitive department.
RULE_CATEGORY, TARGET_CATEGORY, FEATURE_CATEGORY = "Coffee & Tea", "Soft Drinks", "Pet Food"
LATER_SENSITIVE = [RULE_CATEGORY, TARGET_CATEGORY, FEATURE_CATEGORY]
RAISED_MINIMUM = 2 * MIN_AUDIENCE


@contextmanager
def redeployed(market: Market, folder: Path, **env: str) -> Iterator[EndcapClient]:
    """The retailer admin's client on a second server with ``env`` over the package's."""
    settings = {**market.server.env, "ENDCAP_WORKER_IN_PROCESS": "false", **env}
    server = ServerProcess(settings, folder / "redeployed.log").start()
    try:
        with EndcapClient(server.base_url, market.admin_key, timeout=60) as admin:
            yield admin
    finally:
        server.stop()


def publish(admin: EndcapClient, **body: Any) -> AudiencePublic:
    audience = refresh(admin, create(admin, **body).id)
    published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
    assert published.status_code == 200, published.text
    return AudiencePublic.model_validate(published.json())


def book(market: Market, brand: Brand, **overrides: Any) -> CampaignPublic:
    # Five weeks ahead: clear of the weeks other tests of the package fill.
    starts = next_monday(5)
    flight = {"starts_on": starts, "ends_on": starts + timedelta(days=13)}
    with market.client(brand.key) as client:
        draft = client.create_campaign(**campaign_body(market, brand, **{**flight, **overrides}))
        return client.book(draft.id)


def queued(admin: EndcapClient, campaign_id: uuid.UUID) -> ApprovalItem:
    """The campaign's item as the approval queue lists it (paging through the queue)."""
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = admin.request("GET", "/api/v1/approvals", params=params).json()
        for item in page["items"]:
            if item["campaign"]["id"] == str(campaign_id):
                return ApprovalItem.model_validate(item)
        cursor = page.get("next_cursor")
        assert cursor, f"campaign {campaign_id} is not in the approval queue"


def failed(item: ApprovalItem) -> dict[str, Check]:
    return {c.name: c for c in item.checks if not c.passed}


def refused_approval(admin: EndcapClient, campaign_id: uuid.UUID) -> EndcapAPIError:
    with pytest.raises(EndcapAPIError) as refused:
        admin.act(campaign_id, "approve")
    return refused.value


def assert_blocked(admin: EndcapClient, campaign_id: uuid.UUID, check: str, *named: str) -> None:
    """Approval is refused for ``check`` alone, named with ``named``; nothing moves."""
    item = queued(admin, campaign_id)
    assert not item.ready
    assert list(failed(item)) == [check], item.checks
    for words in named:
        assert words in failed(item)[check].detail, failed(item)[check].detail
    error = refused_approval(admin, campaign_id)
    assert error.status == 409
    assert error.type == "urn:endcap:problem:checks-failed"
    assert error.detail.startswith(f"cannot approve: {check}: ")
    for words in named:
        assert words in error.detail
    answered = {c["name"]: c for c in error.problem["checks"] if not c["passed"]}
    assert list(answered) == [check]
    assert admin.campaign(campaign_id).status == "submitted"
    assert [e.action for e in admin.campaign_events(campaign_id)] == ["create", "book"]


def test_a_product_in_a_sensitive_department_blocks_approval(market: Market) -> None:
    with market.client(market.admin_key) as admin:
        product = next(
            p
            for p in admin.products(limit=500).items
            if p.department in SENSITIVE_DEPARTMENTS and not p.private_label
        )
        partner = admin.create_partner(unique("Baby brand agency"), PartnerKind.AGENCY)
        admin.link_brand(partner.id, product.brand, product.manufacturer)
        key = admin.create_key("sensitive brand", Role.BRAND, partner_id=partner.id).key
    brand = Brand(partner.id, key, product.manufacturer, [product.sku])

    campaign = book(market, brand)

    with market.client(market.admin_key) as admin:
        assert_blocked(
            admin,
            campaign.id,
            "sensitive categories",
            f"the product {product.sku!r} is in the sensitive department {product.department!r}",
        )


@pytest.mark.parametrize(
    ("creative", "named"),
    [
        (
            {"headline": "New taste", "landing_url": "http://shop.example/spring"},
            "landing page http://shop.example/spring is not https",
        ),
        ({"headline": "New taste"}, "no landing page"),
        (None, "no headline"),
    ],
    ids=["plain http", "no landing page", "no creative"],
)
def test_an_unusable_creative_blocks_approval(
    market: Market, creative: dict[str, str] | None, named: str
) -> None:
    campaign = book(market, market.a, creative=creative)
    with market.client(market.admin_key) as admin:
        assert_blocked(admin, campaign.id, "creative", named)


@pytest.mark.parametrize("headline", ["   ", "\u200b", "\u2060\u3000"])
def test_a_headline_shoppers_would_see_as_blank_never_reaches_the_approver(
    market: Market, headline: str
) -> None:
    creative = {"headline": headline, "landing_url": "https://shop.example/spring"}
    with market.client(market.a.key) as brand, pytest.raises(EndcapAPIError) as refused:
        brand.create_campaign(**campaign_body(market, market.a, creative=creative))
    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.problem["errors"]] == ["/creative/headline"]


@pytest.mark.parametrize("headline", ["   ", "\u200b", ""])
def test_a_stored_blank_headline_fails_the_creative_check(headline: str) -> None:
    """Drafts stored before headlines were checked on the way in still meet this check."""
    campaign = Campaign(
        partner_id=uuid.uuid4(),
        name="Old draft",
        channels=["email"],
        skus=[],
        creative={"headline": headline, "landing_url": "https://shop.example/spring"},
    )
    check = ApprovalService._creative(campaign)
    assert (check.passed, check.detail) == (False, "no headline")


def test_a_screen_campaign_needs_no_landing_page(market: Market) -> None:
    # Nobody clicks a store screen: its creative is a headline alone.
    with market.client(market.admin_key) as admin:
        admin.configure_channel(
            "instore_screen",
            cpm="10.00",
            currency="SEK",
            weekly_capacity=10**7,
            max_per_profile_week=3,
        )
    campaign = book(
        market, market.a, channels=["instore_screen"], creative={"headline": "New taste"}
    )
    with market.client(market.admin_key) as admin:
        item = queued(admin, campaign.id)
        approved = admin.act(campaign.id, "approve")
    assert item.ready, failed(item)
    assert approved.status == "approved"


def test_a_pinned_version_below_a_raised_minimum_blocks_approval(
    market: Market, tmp_path: Path
) -> None:
    with market.client(market.admin_key) as admin:
        audience = publish(
            admin, rule={"attribute": "loyalty_tier", "op": "in", "value": ["gold", "platinum"]}
        )
    assert audience.current is not None
    size, version = audience.current.size, audience.current.version
    assert MIN_AUDIENCE <= size < RAISED_MINIMUM
    campaign = book(market, market.a, audience_id=audience.id)
    with market.client(market.admin_key) as admin:
        assert queued(admin, campaign.id).ready

    with redeployed(market, tmp_path, ENDCAP_PRIVACY_MIN_AUDIENCE=str(RAISED_MINIMUM)) as admin:
        assert_blocked(
            admin,
            campaign.id,
            "audience",
            f"pinned version {version} of audience {audience.id} holds {size} shoppers "
            f"(minimum {RAISED_MINIMUM})",
        )
        [check] = [c for c in queued(admin, campaign.id).checks if c.name == "audience"]
    assert check.audience_id == audience.id


def test_an_erasure_taking_a_pinned_version_below_the_minimum_blocks_approval(
    market: Market, tmp_path: Path
) -> None:
    audience, member, campaign = _booked_with_a_lone_member(market)
    assert audience.current is not None
    size, version = audience.current.size, audience.current.version
    reach = audience.current.reach["onsite_display"]

    # The retailer's minimum is exactly the pinned version's on-site reach (rounding to 1,
    # so that it may be any number): it passes, until one of its shoppers is erased.
    exact = {"ENDCAP_PRIVACY_MIN_AUDIENCE": str(reach), "ENDCAP_PRIVACY_ROUND_TO": "1"}
    with redeployed(market, tmp_path, **exact) as admin:
        assert queued(admin, campaign.id).ready
        admin.erase(customer_id=member)
        after = AudiencePublic.model_validate(
            admin.request("GET", f"/api/v1/audiences/{audience.id}").json()
        )
        assert after.current is not None
        # The counts the version was released with stay (privacy/erasure.py); approval
        # counts who is left.
        assert (after.current.version, after.current.size) == (version, size)
        assert after.current.reach["onsite_display"] == reach
        assert_blocked(
            admin,
            campaign.id,
            "audience",
            f"pinned version {version} of audience {audience.id} holds {size - 1} shoppers "
            f"(minimum {reach}); too few on a channel: {reach - 1} consent to onsite_display",
        )


LOYAL = {"attribute": "loyalty_tier", "op": "in", "value": ["gold", "platinum"]}


def _booked_with_a_lone_member(market: Market) -> tuple[AudiencePublic, str, CampaignPublic]:
    """The gold and platinum shoppers published, one of them who alone can be singled out
    (``_lone_onsite_member``), and brand A's campaign booked on them (on-site display)."""
    with market.client(market.admin_key) as admin:
        audience = publish(admin, rule=LOYAL)
        member = _lone_onsite_member(admin, market, LOYAL)
    return audience, member, book(market, market.a, audience_id=audience.id)


def _lone_onsite_member(admin: EndcapClient, market: Market, rule: dict[str, Any]) -> str:
    """A customer of the audience ``rule`` selects, alone at their postal code (one
    customer, one profile), holding on-site consent."""
    onsite = unique_postal_codes(market.files, granted=("targeting_onsite",))
    return next(
        row["customer_id"]
        for row in _rows(market.files)
        if row["postal_code"] in onsite
        and admin.request(
            "POST",
            "/api/v1/audiences/estimate",
            json={"rule": {"and": [rule, {"attribute": "postal_code", "op": "=",
                                          "value": row["postal_code"]}]}, "exact": True},
        ).json()["size"] == 1
    )  # fmt: skip


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "customers.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _customers(folder: Path, count: int) -> list[str]:
    with (folder / "customers.csv").open(encoding="utf-8") as handle:
        return [row["customer_id"] for row in csv.DictReader(handle)][:count]


@pytest.fixture(scope="module")
def later_sensitive(market: Market) -> dict[str, CampaignPublic]:
    """One booked campaign each on a rule, a propensity and a lookalike audience that use a
    category the retailer marks sensitive only after they were published."""
    with market.client(market.admin_key) as admin:
        audiences = {
            "rule": publish(
                admin,
                rule={"bought": {"level": "category", "name": RULE_CATEGORY}, "within_weeks": 52},
            ),
            "propensity": publish(
                admin,
                propensity={
                    "target": {"level": "category", "name": TARGET_CATEGORY},
                    "horizon_weeks": 4,
                    "select": {"top_share": 0.5},
                },
            ),
            "lookalike": publish(
                admin,
                lookalike={
                    "seed": {"customer_ids": _customers(market.files, 200)},
                    "reach": 1000,
                    "features": [{"level": "category", "name": FEATURE_CATEGORY}],
                },
            ),
        }
    campaigns = {kind: book(market, market.a, audience_id=a.id) for kind, a in audiences.items()}
    with market.client(market.admin_key) as admin:
        for campaign in campaigns.values():
            assert queued(admin, campaign.id).ready  # nothing was sensitive when booked
    return campaigns


def test_a_category_made_sensitive_after_publishing_blocks_approval(
    market: Market, later_sensitive: dict[str, CampaignPublic], tmp_path: Path
) -> None:
    expected = {
        "rule": RULE_CATEGORY,
        "propensity": TARGET_CATEGORY,
        "lookalike": FEATURE_CATEGORY,
    }
    env = {"ENDCAP_PRIVACY_SENSITIVE_CATEGORIES": json.dumps(LATER_SENSITIVE)}
    with redeployed(market, tmp_path, **env) as admin:
        rule = failed(queued(admin, later_sensitive["rule"].id))["sensitive categories"]
        propensity = failed(queued(admin, later_sensitive["propensity"].id))[
            "sensitive categories"
        ].detail
        for kind, campaign in later_sensitive.items():
            audience_id = campaign.audiences[0].id
            assert_blocked(
                admin,
                campaign.id,
                "sensitive categories",
                f"audience {audience_id}: the category {expected[kind]!r} is marked sensitive "
                "by the retailer",
            )
    # The propensity model was fitted on every category's spend that was not sensitive at
    # its refresh: the categories marked since are named for it too.
    assert f"the category {RULE_CATEGORY!r} is marked sensitive" in propensity
    assert f"the category {FEATURE_CATEGORY!r} is marked sensitive" in propensity
    # The rule touches its own category only, so it is named for that alone.
    assert TARGET_CATEGORY not in rule.detail
    assert FEATURE_CATEGORY not in rule.detail
    with market.client(market.admin_key) as admin:  # the server with the old list still passes
        assert all(queued(admin, c.id).ready for c in later_sensitive.values())


def test_a_capacity_lowered_below_the_bookings_blocks_approval_until_raised(
    market: Market,
) -> None:
    screen = {"cpm": "10.00", "currency": "SEK", "max_per_profile_week": 3}
    starts = next_monday(9)  # clear of the weeks the package's other screen bookings hold
    with market.client(market.admin_key) as admin:
        admin.configure_channel("instore_screen", weekly_capacity=10**7, **screen)
    campaign = book(
        market,
        market.a,
        channels=["instore_screen"],
        creative={"headline": "New taste"},
        starts_on=starts,
        ends_on=starts + timedelta(days=13),
    )
    mondays = [starts, starts + timedelta(days=7)]
    with market.client(market.admin_key) as admin:
        assert queued(admin, campaign.id).ready
        held = {w.week_start: w.booked for w in admin.capacity("instore_screen", first=starts)}
        assert all(held[m] > 1 for m in mondays), held
        lowered = min(held[m] for m in mondays) - 1
        try:
            answer = admin.configure_channel("instore_screen", weekly_capacity=lowered, **screen)
            oversold = {w.week_start: w for w in answer.oversold_weeks}
            for monday in mondays:
                assert oversold[monday].capacity == lowered
                assert oversold[monday].booked == held[monday]
                assert oversold[monday].left == lowered - held[monday] < 0
            listed = {c.channel: c for c in admin.channels()}
            assert listed["instore_screen"].oversold_weeks == answer.oversold_weeks
            assert_blocked(
                admin,
                campaign.id,
                "capacity",
                f"instore_screen week of {starts} holds {held[starts]} of {lowered}",
            )
        finally:
            raised = admin.configure_channel("instore_screen", weekly_capacity=10**7, **screen)
        assert raised.oversold_weeks == []
        assert queued(admin, campaign.id).ready
        assert admin.act(campaign.id, "approve").status == "approved"


def test_a_withdrawal_taking_a_channels_reach_below_the_minimum_blocks_approval(
    market: Market, tmp_path: Path
) -> None:
    audience, member, campaign = _booked_with_a_lone_member(market)
    assert audience.current is not None
    reach, version = audience.current.reach["onsite_display"], audience.current.version
    assert reach < audience.current.size

    # The minimum is exactly the on-site reach (rounding to 1): it passes, until one of
    # those shoppers withdraws on-site consent. The size alone still passes.
    exact = {"ENDCAP_PRIVACY_MIN_AUDIENCE": str(reach), "ENDCAP_PRIVACY_ROUND_TO": "1"}
    with redeployed(market, tmp_path, **exact) as admin:
        assert queued(admin, campaign.id).ready
        admin.record_consent(member, "targeting_onsite", "withdrawn")
        assert_blocked(
            admin,
            campaign.id,
            "audience",
            f"pinned version {version} of audience {audience.id} holds "
            f"{audience.current.size} shoppers (minimum {reach}); too few on a channel: "
            f"{reach - 1} consent to onsite_display now",
        )
        admin.record_consent(member, "targeting_onsite", "granted")
        assert queued(admin, campaign.id).ready


def test_a_contact_limit_lowered_below_the_frequency_cap_blocks_approval_until_raised(
    market: Market,
) -> None:
    screen = {"cpm": "10.00", "currency": "SEK", "weekly_capacity": 10**7}
    with market.client(market.admin_key) as admin:
        admin.configure_channel("instore_screen", max_per_profile_week=3, **screen)
    campaign = book(
        market, market.a, channels=["instore_screen"], creative={"headline": "New taste"},
        frequency_cap=3,
    )  # fmt: skip
    with market.client(market.admin_key) as admin:
        assert queued(admin, campaign.id).ready
        try:
            admin.configure_channel("instore_screen", max_per_profile_week=1, **screen)
            assert_blocked(
                admin,
                campaign.id,
                "capacity",
                "instore_screen now allows 1 contacts per shopper per week, the campaign's "
                "frequency cap is 3",
            )
        finally:
            admin.configure_channel("instore_screen", max_per_profile_week=3, **screen)
        assert queued(admin, campaign.id).ready
