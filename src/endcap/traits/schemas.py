from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


class TraitsRefreshReport(BaseModel):
    as_of: datetime | None
    mode: str  # "full" or "incremental": what was done, whatever was asked
    profiles: int  # with traits after the refresh
    recomputed: int  # whose traits and spend were recomputed from purchases
    spend_rows: dict[str, int]
    value_model: dict[str, Any] | None
    clusters: dict[str, Any] | None
    seconds: dict[str, float]


class ProfileTraitsPublic(BaseModel):
    """A profile's traits (retailer admin only: customer-level)."""

    profile_id: int
    as_of: datetime
    first_purchase_at: datetime
    last_purchase_at: datetime
    baskets_52w: int
    spend_52w: Decimal
    units_52w: Decimal
    avg_basket_value: Decimal
    baskets_total: int
    mean_basket_value: Decimal
    online_share: float
    promo_share: float
    expected_baskets_12m: float | None
    p_alive: float | None
    clv_12m: Decimal | None
    value_tier: str | None
    value_cluster: int | None
