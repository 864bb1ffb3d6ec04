"""The brand's catalog: filtered by category, channel and size band, priced, rounded."""

from __future__ import annotations

from collections import Counter

import pytest

from endcap.client import EndcapAPIError
from tests.audiences.http import create, refresh
from tests.marketplace.conftest import Market


def test_the_catalog_filters_by_category_channel_and_band(market: Market) -> None:
    with market.client(market.admin_key) as admin:
        products = admin.products(limit=500).items
        category = Counter(p.category for p in products if p.department == "Dairy & Chilled")
        name = category.most_common(1)[0][0]
        rule = {"bought": {"level": "category", "name": name}, "within_weeks": 52}
        audience = refresh(admin, create(admin, rule=rule).id)
        published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
        assert published.status_code == 200, published.text
    with market.client(market.a.key) as brand:
        about = brand.audience_catalog(category=name.upper())
        everything = brand.audience_catalog()
        by_channel = brand.audience_catalog(channel="email")
        nowhere = brand.audience_catalog(category="No Such Category")
        small = brand.audience_catalog(size_band="100k-1m")
        with pytest.raises(EndcapAPIError) as unknown_band:
            brand.audience_catalog(size_band="nope")
    assert [e.id for e in about] == [audience.id]
    assert about[0].categories == [name]
    assert {market.audience_id, audience.id} <= {e.id for e in everything}
    assert all("email" in {c.channel for c in e.channels} for e in by_channel)
    assert nowhere == []
    assert small == []  # a 2,000-shopper retailer has no audience of 100k or more
    # A band that does not exist is named, not answered with an empty list.
    assert unknown_band.value.status == 422
    assert unknown_band.value.problem["errors"] == [
        {
            "field": "size_band",
            "source": "query",
            "message": "Invalid enum value 'nope' (one of 1k-10k, 10k-100k, 100k-1m, 1m-plus)",
        }
    ]
    assert all(e.size % 100 == 0 for e in everything)


def test_the_catalog_comes_a_page_at_a_time_in_creation_order(market: Market) -> None:
    with market.client(market.a.key) as brand:
        everything = [e.id for e in brand.audience_catalog()]
        walked, cursor, pages = [], None, 0
        while True:
            page = brand.audience_catalog_page(limit=1, cursor=cursor)
            assert len(page.items) <= 1
            walked += [e.id for e in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        with pytest.raises(EndcapAPIError) as malformed:
            brand.audience_catalog_page(cursor="not-a-cursor")
    assert len(everything) >= 1
    assert walked == everything  # each once, the same order
    assert pages == len(everything)
    assert malformed.value.status == 422
