"""The queries of a full spend refresh on PostgreSQL (spend_table.py makes the tables).

Purchases are summed once per profile and place in the catalog, whole cents in bigints;
those sums are rolled up to each level, grouped by integer key ranks, and come out in
``profile_spend``'s key order (spend_table.py says why and what it saved).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    cast,
    func,
    literal,
    literal_column,
    select,
    union,
    union_all,
)
from sqlalchemy.sql import ColumnElement

from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.db.base import table_of
from endcap.db.types import UTCDateTime
from endcap.purchases.models import TransactionLine
from endcap.traits.models import (
    LEVELS,
    SPEND_WINDOWS,
    UNITS_WINDOWS,
    WINDOWS_WEEKS,
    ProfileSpend,
)
from endcap.traits.spend_table import KEYS, PER_SKU, SKU_KEYS

LINES = table_of(TransactionLine)
PRODUCTS = table_of(Product)
BRANDS = table_of(Brand)
MANUFACTURERS = table_of(Manufacturer)
SPEND = table_of(ProfileSpend)
# profile_spend's summed columns: window spends, then window units.
WINDOW_COLUMNS: Final = (*SPEND_WINDOWS, *UNITS_WINDOWS)


def _since(as_of: datetime, weeks: int) -> datetime:
    return as_of - timedelta(weeks=weeks)


# A full refresh's first sums on PostgreSQL (spend_table.py): per profile and place in the
# catalog, the ranks (KEY_RANKS) of a SKU's department, category, brand and maker. SKUs
# in the same place are summed together (at 100k profiles 1.48M rows instead of 1.68M per
# SKU) and the roll-ups need no join. Whole cents and thousandths of a unit in bigints,
# summed by bigint_total (migration 0021): summing integers is exact, as summing the
# decimals is, and cheaper: a numeric sum (or the built-in sum of bigints, which returns
# numeric) keeps a large state per group, so fewer groups fit in work_mem and the hash
# aggregates spill to disk sooner.
PER_SKU_CENTS = Table(
    PER_SKU,
    MetaData(),
    Column("profile_id", BigInteger, nullable=False),
    *(Column(level, Integer, nullable=False) for level in LEVELS),
    Column("cents_4w", BigInteger, nullable=False),
    Column("cents_13w", BigInteger, nullable=False),
    Column("cents_52w", BigInteger, nullable=False),
    Column("milli_units_4w", BigInteger, nullable=False),
    Column("milli_units_13w", BigInteger, nullable=False),
    Column("milli_units_52w", BigInteger, nullable=False),
    Column("last_purchase_at", UTCDateTime(), nullable=False),
)


# Its summed columns, in the order of WINDOW_COLUMNS.
CENTS_COLUMNS: Final = (
    "cents_4w", "cents_13w", "cents_52w", "milli_units_4w", "milli_units_13w", "milli_units_52w",
)  # fmt: skip


def per_sku_cents(as_of: datetime) -> Select[Any]:
    t = LINES.c
    cents = cast(t.sales_value * 100, BigInteger)  # numeric(14, 2): exactly an integer
    milli_units = cast(t.quantity * 1000, BigInteger)  # numeric(12, 3): likewise

    def total(value: ColumnElement[Any], weeks: int, name: str) -> ColumnElement[Any]:
        summed: ColumnElement[Any] = _bigint_total(value)
        if weeks != max(WINDOWS_WEEKS):  # the longest window is the WHERE clause's
            summed = summed.filter(t.occurred_at > _since(as_of, weeks))
        return func.coalesce(summed, 0, type_=BigInteger).label(name)

    ranks = [SKU_RANKS.c[level] for level in LEVELS]
    return (
        select(
            t.profile_id,
            *ranks,
            total(cents, 4, "cents_4w"),
            total(cents, 13, "cents_13w"),
            total(cents, 52, "cents_52w"),
            total(milli_units, 4, "milli_units_4w"),
            total(milli_units, 13, "milli_units_13w"),
            total(milli_units, 52, "milli_units_52w"),
            func.max(t.occurred_at).label("last_purchase_at"),
        )
        .select_from(LINES.join(SKU_RANKS, SKU_RANKS.c.sku == t.sku))
        .where(
            t.profile_id.is_not(None),
            t.occurred_at > _since(as_of, 52),
            t.occurred_at <= as_of,
        )
        .group_by(t.profile_id, *ranks)
    )


def _bigint_total(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.bigint_total(value, type_=BigInteger)


# Exact decimal shifts from whole cents and thousandths (a product, cheaper than a
# numeric division).
_CENT: Final = "0.01"
_MILLI: Final = "0.001"


def _shift(value: ColumnElement[Any], name: str) -> ColumnElement[Any]:
    """Whole cents (spend columns) or thousandths (units columns) as the decimal."""
    return value * literal_column(_CENT if name in SPEND_WINDOWS else _MILLI)


# A full refresh's catalog keys on PostgreSQL (spend_table.py): each (level, key) with its
# rank in profile_spend's key order, and each SKU with the rank of its key at each level.
KEY_RANKS = Table(
    KEYS,
    MetaData(),
    Column("level", String(16), nullable=False),
    Column("key", String(200), nullable=False),
    Column("rank", Integer, nullable=False),
)
SKU_RANKS = Table(
    SKU_KEYS,
    MetaData(),
    Column("sku", String(64), nullable=False),
    *(Column(level, Integer, nullable=False) for level in LEVELS),
)


def _with_makers() -> Any:
    """The products joined to their brand and its maker."""
    p, b, m = PRODUCTS.c, BRANDS.c, MANUFACTURERS.c
    return PRODUCTS.join(BRANDS, b.id == p.brand_id).join(MANUFACTURERS, m.id == b.manufacturer_id)


def _catalog_keys() -> dict[str, tuple[Any, ColumnElement[Any]]]:
    """Per catalog level: the products joined to what its key needs, and the key.

    Only the maker's name needs the brand and maker rows: a product's brand and a
    brand's maker are NOT NULL foreign keys (enforced on both databases), so those inner
    joins can neither drop nor repeat a product, and the other levels skip them."""
    p, m = PRODUCTS.c, MANUFACTURERS.c
    return {
        "department": (PRODUCTS, p.department),
        "category": (PRODUCTS, p.category),
        "brand": (PRODUCTS, cast(p.brand_id, String)),  # brand names repeat across makers
        "manufacturer": (_with_makers(), m.name),
    }


def key_ranks() -> Select[Any]:
    """Every (level, key) of the catalog, ranked in ``profile_spend``'s key order: the
    same types (so the same collation) as its columns, sorted as its primary key is."""
    level_type, key_type = SPEND.c.level.type, SPEND.c.key.type
    keys = union(
        *(
            select(
                cast(literal(level), level_type).label("level"), cast(key, key_type).label("key")
            ).select_from(source)
            for level, (source, key) in _catalog_keys().items()
        )
    ).subquery()
    rank = func.row_number().over(order_by=(keys.c.level, keys.c.key))
    return select(keys.c.level, keys.c.key, cast(rank, Integer).label("rank"))


def sku_ranks() -> Select[Any]:
    """Each SKU with the rank (:data:`KEY_RANKS`) of its key at each level."""
    found = _with_makers()
    ranks = []
    for level, (_source, key) in _catalog_keys().items():
        ranked = KEY_RANKS.alias(f"{level}_rank")
        found = found.join(ranked, and_(ranked.c.level == level, ranked.c.key == key))
        ranks.append(ranked.c.rank.label(level))
    return select(PRODUCTS.c.sku, *ranks).select_from(found)


def ranked_roll_ups(per_sku: Table) -> Select[Any]:
    """Every level's spend rows from ``per_sku``'s, in ``profile_spend``'s key order
    (rank, then profile): the build table's columns, in ``profile_spend``'s order and
    types.

    One aggregate per level, by (profile, rank): integer keys, cheaper to hash than text;
    UNION ALL, so PostgreSQL runs them side by side (Parallel Append). Each level's rows
    get their decimals (cast to ``profile_spend``'s types) and their level and key in
    the parallel workers, before the sort: only the merge of the sorted rows and the
    writes are left to the leader, one process (measured in spend_table.py)."""
    s, k = per_sku.c, KEY_RANKS.c
    pairs = list(zip(CENTS_COLUMNS, WINDOW_COLUMNS, strict=True))
    levels = [
        select(
            s.profile_id.label("profile_id"),
            s[level].label("rank"),
            *(cast(_shift(_bigint_total(s[c]), n), SPEND.c[n].type).label(n) for c, n in pairs),
            func.max(s.last_purchase_at).label("last_purchase_at"),
        ).group_by(s.profile_id, s[level])
        for level in LEVELS
    ]
    rolled = union_all(*levels).subquery()
    r = rolled.c
    named = {**{c.name: c for c in r}, "level": k.level, "key": k.key}
    return (
        select(*(named[c.name] for c in SPEND.columns))
        .join_from(rolled, KEY_RANKS, k.rank == r.rank)
        .order_by(r.rank, r.profile_id)
    )
