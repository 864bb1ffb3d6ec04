from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
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


class SpendLevel(StrEnum):
    DEPARTMENT = "department"
    CATEGORY = "category"
    BRAND = "brand"
    MANUFACTURER = "manufacturer"


class ShareOfCategory(BaseModel):
    """Spend on a brand or maker over spend in the categories it has products in, per
    window; None where the profile spent nothing in those categories."""

    w4: float | None
    w13: float | None
    w52: float | None


class ProfileSpendPublic(BaseModel):
    """A profile's spend and units on one department, category, brand or maker."""

    level: SpendLevel
    key: str  # as audience rules store it: a brand's id, the other levels' names
    name: str  # a brand's name (with its maker in ``manufacturer``), else the key
    manufacturer: str | None
    spend_4w: Decimal
    spend_13w: Decimal
    spend_52w: Decimal
    units_4w: Decimal
    units_13w: Decimal
    units_52w: Decimal
    last_purchase_at: datetime
    share_of_category: ShareOfCategory | None  # brands and makers only


class ClusterCategory(BaseModel):
    """A category that sets a value cluster apart (traits/cluster_profiles.py)."""

    category: str
    share: float | None  # of the cluster's 52-week spend
    index: float | None  # that share over all clustered shoppers' share, x 100


class ValueClusterPublic(BaseModel):
    """One value cluster as a marketer reads it; ``{"cluster": [label]}`` targets it."""

    label: int
    profiles: int
    mean_spend_52w: float
    mean_baskets_52w: float
    mean_clv_12m: float
    online_share: float
    promo_share: float
    top_categories: list[ClusterCategory]
    drift: float | None  # how far its centroid moved at the last refresh; None: a new label


class ValueClustersPublic(BaseModel):
    """The value clusters the last trait refresh left (none before the first)."""

    k: int | None
    silhouette: float | None
    refreshed_at: datetime | None
    clusters: list[ValueClusterPublic]
