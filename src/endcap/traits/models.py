"""Trait tables: one row per profile, and one row per profile and catalog key.

Windows are rolling weeks ending at ``as_of`` (the latest loaded purchase, so a
replayed history gives the same traits). Spend rows are wide (one column per
window) so that a refresh reads the purchases once per catalog level, and an
audience rule such as "spent more than 20 on Coffee in 13 weeks" is one indexed
look-up.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
)
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, JsonDocument, UTCDateTime, utcnow

WINDOWS_WEEKS = (4, 13, 52)  # the windows audience rules may name; others are refused
LEVELS = ("department", "category", "brand", "manufacturer")


def _money() -> Numeric:  # type: ignore[type-arg]
    return Numeric(14, 2)


class ProfileTraits(SQLModel, table=True):
    __tablename__ = "profile_traits"

    profile_id: int = Field(
        sa_column=Column(BigId, ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True)
    )
    # Indexed: rules counting days read max(as_of) on every estimate.
    as_of: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    first_purchase_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_purchase_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    baskets_52w: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    spend_52w: Decimal = Field(sa_column=Column(_money(), nullable=False, index=True))
    units_52w: Decimal = Field(sa_column=Column(Numeric(14, 3), nullable=False))
    avg_basket_value: Decimal = Field(sa_column=Column(_money(), nullable=False))
    # Over all history up to as_of: the value models' frequency and mean basket value.
    baskets_total: int = Field(sa_column=Column(Integer, nullable=False))
    mean_basket_value: Decimal = Field(sa_column=Column(_money(), nullable=False))
    online_share: float = Field(sa_column=Column(Float, nullable=False))  # of 52-week spend
    promo_share: float = Field(sa_column=Column(Float, nullable=False))  # spend on discounted lines
    # Customer value (filled by the value step of a refresh).
    expected_baskets_12m: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    p_alive: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    clv_12m: Decimal | None = Field(
        default=None, sa_column=Column(_money(), nullable=True, index=True)
    )
    value_tier: str | None = Field(
        default=None, sa_column=Column(String(16), nullable=True, index=True)
    )
    value_cluster: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True, index=True)
    )


SPEND_WINDOWS = ("spend_4w", "spend_13w", "spend_52w")
UNITS_WINDOWS = ("units_4w", "units_13w", "units_52w")
# What rides along in the spend key's index: every column a purchase condition compares.
COVERED = (*SPEND_WINDOWS, *UNITS_WINDOWS)


class ProfileSpend(SQLModel, table=True):
    """Spend of one profile on one department, category, brand or manufacturer."""

    __tablename__ = "profile_spend"
    __table_args__ = (
        # The window spends and units ride along in the key's index (PostgreSQL), so an
        # audience condition on a department, category, brand or maker is an index-only scan.
        PrimaryKeyConstraint("level", "key", "profile_id", postgresql_include=list(COVERED)),
        Index(None, "profile_id"),
    )

    # No foreign key: a refresh writes millions of these rows and a per-row check
    # would double its cost; erasure deletes them explicitly (privacy/repository.py).
    profile_id: int = Field(sa_column=Column(BigId, nullable=False))
    level: str = Field(sa_column=Column(String(16), nullable=False))
    # The department, category or manufacturer name; a brand's id (names repeat across makers).
    key: str = Field(sa_column=Column(String(200), nullable=False))
    spend_4w: Decimal = Field(sa_column=Column(_money(), nullable=False))
    spend_13w: Decimal = Field(sa_column=Column(_money(), nullable=False))
    spend_52w: Decimal = Field(sa_column=Column(_money(), nullable=False))
    units_52w: Decimal = Field(sa_column=Column(Numeric(14, 3), nullable=False))
    last_purchase_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Added after the others (migration 0018), so last in the table too.
    units_4w: Decimal = Field(sa_column=Column(Numeric(14, 3), nullable=False))
    units_13w: Decimal = Field(sa_column=Column(Numeric(14, 3), nullable=False))


class ValueCluster(SQLModel, table=True):
    """A live value cluster as a marketer reads it, replaced at every refresh (what its
    label means is in :class:`ValueClusterLabel`)."""

    __tablename__ = "value_clusters"

    label: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    profiles: int = Field(sa_column=Column(Integer, nullable=False))
    mean_spend_52w: float = Field(sa_column=Column(Float, nullable=False))
    mean_baskets_52w: float = Field(sa_column=Column(Float, nullable=False))
    mean_clv_12m: float = Field(sa_column=Column(Float, nullable=False))
    online_share: float = Field(sa_column=Column(Float, nullable=False))
    promo_share: float = Field(sa_column=Column(Float, nullable=False))
    # Each {category, share, index} (traits/cluster_profiles.py; names alone before it).
    top_categories: list[Any] = Field(
        default_factory=list, sa_column=Column(JsonDocument, nullable=False)
    )
    k: int = Field(sa_column=Column(Integer, nullable=False))
    silhouette: float = Field(sa_column=Column(Float, nullable=False))
    # How far the centroid moved at this refresh (standard deviations of the features);
    # None for a label issued at this refresh.
    drift: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    refreshed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ValueClusterLabel(SQLModel, table=True):
    """What a value-cluster label means: its centroid, in the scaled feature space that
    ``scaler_mean`` and ``scaler_scale`` define (traits/clusters.py). Every label ever
    issued keeps its row; a retired label is never issued again."""

    __tablename__ = "value_cluster_labels"

    label: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    features: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    centroid: list[float] = Field(sa_column=Column(JsonDocument, nullable=False))
    scaler_mean: list[float] = Field(sa_column=Column(JsonDocument, nullable=False))
    scaler_scale: list[float] = Field(sa_column=Column(JsonDocument, nullable=False))
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    refreshed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class TraitRefresh(SQLModel, table=True):
    """One finished refresh: what the next one may update incrementally from."""

    __tablename__ = "trait_refreshes"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    as_of: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    mode: str = Field(sa_column=Column(String(16), nullable=False))  # "full" or "incremental"
    profiles_recomputed: int = Field(sa_column=Column(Integer, nullable=False))
    # The estimate sample this refresh left (traits/sample.py): its share of the
    # profiles (a power of two) and both counts. None: too few profiles to sample.
    sample_share: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    sample_profiles: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    profiles: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    finished_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )


class StaleProfile(SQLModel, table=True):
    """A profile whose purchases changed since the last refresh (a load, a merge or split).

    Loads and identity resolution add rows; a refresh recomputes these profiles and
    empties the table in the same transaction.
    """

    __tablename__ = "stale_profiles"

    profile_id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    # A refresh clears only what was marked before it started; a later mark waits for the next.
    marked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


def _sample_columns(model: type[SQLModel]) -> list[Column]:  # type: ignore[type-arg]
    """The model's columns, without their indexes or key (each sample table has its own:
    the sample is read whole or by key)."""
    return [
        Column(c.name, c.type, nullable=c.nullable)
        for c in model.__table__.columns  # type: ignore[attr-defined]
    ]


# The sampled profile's spend in every category, per window: the sum of its category rows
# in profile_spend_sample (written with them, traits/sample.py). A share of category
# requirements for a seller in most categories reads it less the few other categories'
# rows, instead of summing the rows of all its own (audiences/compile.py).
CATEGORY_SPEND: Final = {window: f"category_{window}" for window in SPEND_WINDOWS}

# The estimate sample (traits/sample.py): the same rows as profile_traits and
# profile_spend for a fixed, hashed share of the profiles, each with its slot: which of
# the sample's even parts by hash it is in (sample.SLOTS; an estimate may read only some).
TRAITS_SAMPLE = Table(
    "profile_traits_sample",
    SQLModel.metadata,
    *_sample_columns(ProfileTraits),
    *(Column(name, _money(), nullable=False) for name in CATEGORY_SPEND.values()),
    Column("slot", SmallInteger, nullable=False),
    PrimaryKeyConstraint("profile_id"),
    # Written in slot order: on PostgreSQL the first slots' traits are one range of pages
    # (SQLite keeps rows in id order), and counting them reads only this index.
    Index(None, "slot"),
    # Erasing or merging away a profile takes its sampled traits with it, as its traits.
    ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE"),
)
SPEND_SAMPLE = Table(
    "profile_spend_sample",
    SQLModel.metadata,
    *_sample_columns(ProfileSpend),
    Column("slot", SmallInteger, nullable=False),
    # The slot before the id: the rows of a key in the first few slots are one range.
    PrimaryKeyConstraint("level", "key", "slot", "profile_id", postgresql_include=list(COVERED)),
)
