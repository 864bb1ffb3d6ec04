"""A valid campaign body for the tests to start from and then break one field of."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from tests.marketplace.conftest import Brand, Market


def next_monday(weeks_ahead: int = 1) -> date:
    today = date.today()  # noqa: DTZ011  (flight dates are calendar days)
    return today + timedelta(days=7 - today.weekday() + 7 * (weeks_ahead - 1))


def campaign_body(market: Market, brand: Brand, **overrides: Any) -> dict[str, Any]:
    starts = next_monday()
    body: dict[str, Any] = {
        "name": f"Spring push {uuid.uuid4().hex[:6]}",
        "audience_id": market.audience_id,
        "skus": brand.skus[:2],
        "channels": ["onsite_display"],
        "starts_on": starts,
        "ends_on": starts + timedelta(days=13),  # two full ISO weeks
        "budget": "100000.00",
        "currency": "SEK",
        "frequency_cap": 2,
        "creative": {"headline": "New taste", "landing_url": "https://shop.example/spring"},
    }
    body.update(overrides)
    return body
