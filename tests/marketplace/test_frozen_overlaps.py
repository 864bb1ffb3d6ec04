"""Numbers a brand sees about a pair of audiences do not move between refreshes: their
overlaps are counted once and kept (audiences/frozen_overlaps.py). Before, one shopper's
withdrawal moved a pair's forecast at once, while every catalog number stayed put."""

from __future__ import annotations

import csv
from typing import Any

from endcap.audiences.schemas import AudiencePublic
from endcap.client import EndcapClient
from tests.audiences.http import create_rule, refresh
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import Market

ONSITE = "onsite_display"
LOYAL = {"attribute": "loyalty_tier", "op": "in", "value": ["gold", "platinum"]}


def _publish(admin: EndcapClient, rule: dict[str, Any]) -> AudiencePublic:
    audience = refresh(admin, create_rule(admin, rule).id)
    published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
    assert published.status_code == 200, published.text
    return AudiencePublic.model_validate(published.json())


def _onsite_gold(market: Market, n: int) -> list[str]:
    """Customers of the gold and platinum tiers whose latest on-site consent event is a
    grant."""
    tiers = set(LOYAL["value"])
    with (market.files / "customers.csv").open(encoding="utf-8") as handle:
        gold = {r["customer_id"] for r in csv.DictReader(handle) if r["loyalty_tier"] in tiers}
    latest: dict[str, tuple[str, str]] = {}
    with (market.files / "consents.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["purpose"] == "targeting_onsite" and row["customer_id"] in gold:
                seen = latest.get(row["customer_id"])
                if seen is None or row["recorded_at"] >= seen[0]:
                    latest[row["customer_id"]] = (row["recorded_at"], row["status"])
    granted = sorted(c for c, (_, status) in latest.items() if status == "granted")
    assert len(granted) >= n
    return granted[:n]


def test_withdrawals_between_refreshes_do_not_move_a_pairs_forecast_or_overlap(
    market: Market,
) -> None:
    body = campaign_body(market, market.a)
    flight = {"channels": [ONSITE], "starts_on": body["starts_on"], "ends_on": body["ends_on"]}
    leaving = _onsite_gold(market, 120)
    with market.client(market.admin_key) as admin:
        gold = _publish(admin, LOYAL)
    pair = [gold.id, market.audience_id]  # gold is inside everyone
    overlap = f"/api/v1/catalog/audiences/{gold.id}/overlap/{market.audience_id}"
    with market.client(market.a.key) as brand:
        before = brand.forecast(audience_ids=pair, **flight).lines[0].reach
        overlap_before = brand.request("GET", overlap).json()
        catalog_before = {e.id: e for e in brand.audience_catalog()}
    with market.client(market.admin_key) as admin:
        try:
            for customer in leaving:
                admin.record_consent(customer, "targeting_onsite", "withdrawn")
            with market.client(market.a.key) as brand:
                after = brand.forecast(audience_ids=pair, **flight).lines[0].reach
                overlap_after = brand.request("GET", overlap).json()
                catalog_after = {e.id: e for e in brand.audience_catalog()}
            # The retailer's forecast reads the same kept counts.
            live = admin.forecast(audience_ids=pair, **flight).lines[0].reach
            # Counted now, the gold shoppers' on-site reach is about 120 smaller (a few
            # of them share a profile with a customer who still grants): the kept
            # counts are what held the brand's numbers still.
            recounted = refresh(admin, create_rule(admin, LOYAL).id)
        finally:
            for customer in leaving:
                admin.record_consent(customer, "targeting_onsite", "granted")
    assert catalog_after[gold.id] == catalog_before[gold.id]
    assert after == before
    assert overlap_after == overlap_before
    assert live == after
    assert gold.current is not None
    assert recounted.current is not None
    assert gold.current.reach[ONSITE] - recounted.current.reach[ONSITE] >= 100
