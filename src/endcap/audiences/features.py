"""Per-profile features for the audience models, computed from purchases up to a cut-off.

Propensity models are trained on one cut-off, checked on a later one and scored
at the newest purchase, so the features are computed from the purchase lines
as they stood at each cut-off (never from the refreshed traits, which only
exist for today). Two set-based queries per cut-off: one row per profile
(spend over 4, 13 and 52 weeks, baskets, units, online and promo spend, spend
on the target, and whether the target was bought in the horizon after the
cut-off), and one row per profile and category (52-week spend), pivoted here
into the columns the model was given. Amounts come back as floats: the model
needs no cents, and decimals would cost a Python object each.

The population at a cut-off is every profile with a purchase in the 52 weeks
before it, as for the traits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
from sqlalchemy import Float, and_, cast, distinct, false, func, select
from sqlalchemy.sql import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.db.base import table_of
from endcap.db.types import UTCDateTime
from endcap.purchases.models import TransactionLine

LINES = table_of(TransactionLine)
PRODUCTS = table_of(Product)
BRANDS = table_of(Brand)
MANUFACTURERS = table_of(Manufacturer)
FETCH_ROWS: Final = 100_000
BASE_FEATURES: Final = (
    "spend_4w", "spend_13w", "spend_52w", "baskets_52w", "units_52w", "online_spend_52w",
    "promo_spend_52w",
)  # fmt: skip
TARGET_FEATURES: Final = ("target_spend_13w", "target_spend_52w")


@dataclass(frozen=True, slots=True)
class SpendColumn:
    """One spend feature: the 52-week spend on these categories (a category, or a department's)."""

    label: str
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Excluded:
    """The sensitive lines no feature may sum: those of products in these departments or
    categories (the catalog's spellings). Without this, the totals less the categories a
    model sees would be exactly the sensitive spend."""

    departments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def _kept(excluded: Excluded) -> list[ColumnElement[bool]]:
    """The conditions a products-joined line must meet not to be ``excluded``."""
    p = PRODUCTS.c
    kept: list[ColumnElement[bool]] = []
    if excluded.departments:
        kept.append(p.department.not_in(excluded.departments))
    if excluded.categories:
        kept.append(p.category.not_in(excluded.categories))
    return kept


@dataclass(frozen=True, slots=True)
class TargetFilter:
    """Which purchase lines are the target's: a resolved department, category, brand or maker."""

    level: str
    keys: tuple[str, ...]


@dataclass(slots=True)
class FeatureFrame:
    """Features of the population at one cut-off, rows in ``profile_ids`` order."""

    profile_ids: np.ndarray  # int64, ascending
    matrix: np.ndarray  # float32, one column per name
    names: list[str]
    bought_after: np.ndarray | None  # bool: bought the target within the horizon

    def __len__(self) -> int:
        return int(self.profile_ids.shape[0])


class FeatureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def frame(
        self,
        cutoff: datetime,
        spend_columns: Sequence[SpendColumn],
        *,
        excluded: Excluded,
        target: TargetFilter | None = None,
        horizon: timedelta | None = None,
    ) -> FeatureFrame:
        """The features as of ``cutoff``; with ``horizon``, the target label after it too.
        No feature sums an ``excluded`` line (required: a caller cannot forget it); a
        shopper who bought nothing else still belongs to the population, with those
        features at zero."""
        base = await self._per_profile(cutoff, target, horizon, excluded)
        ids = base[:, 0].astype(np.int64)
        spend = await self._category_spend(cutoff, ids, spend_columns, excluded)
        names = list(BASE_FEATURES) + (list(TARGET_FEATURES) if target else [])
        width = len(names)
        matrix = np.hstack([base[:, 1 : 1 + width], spend]).astype(np.float32)
        label = base[:, 1 + width] > 0 if horizon is not None else None
        names += [column.label for column in spend_columns]
        return FeatureFrame(ids, matrix, names, label)

    async def _per_profile(
        self,
        cutoff: datetime,
        target: TargetFilter | None,
        horizon: timedelta | None,
        excluded: Excluded,
    ) -> np.ndarray:
        t, p = LINES.c, PRODUCTS.c
        before = t.occurred_at <= cutoff
        query = select().select_from(LINES)
        kept = _kept(excluded)
        if kept or target is not None:
            # An inner join loses no line: a load refuses a line whose SKU is not in the
            # catalog, and products are never deleted.
            query = query.join(PRODUCTS, p.sku == t.sku)

        def since(weeks: int) -> ColumnElement[bool]:
            return and_(t.occurred_at > cutoff - timedelta(weeks=weeks), before, *kept)

        def spend(condition: ColumnElement[bool]) -> ColumnElement[Any]:
            return cast(func.coalesce(func.sum(t.sales_value).filter(condition), 0), Float)

        year = since(52)
        columns: list[ColumnElement[Any]] = [
            t.profile_id,
            spend(since(4)),
            spend(since(13)),
            spend(year),
            cast(func.count(distinct(t.transaction_id)).filter(year), Float),
            cast(func.coalesce(func.sum(t.quantity).filter(year), 0), Float),
            spend(and_(year, t.channel == "online")),
            spend(and_(year, t.discount > 0)),
        ]
        end = cutoff
        if target is not None:
            is_target, query = self._target_lines(query, target)
            columns += [spend(and_(since(13), is_target)), spend(and_(year, is_target))]
            if horizon is not None:
                end = cutoff + horizon
                after = and_(t.occurred_at > cutoff, t.occurred_at <= end, is_target)
                columns.append(cast(func.count().filter(after), Float))
        query = (
            query.add_columns(*columns)
            .where(
                t.profile_id.is_not(None),
                t.occurred_at > cutoff - timedelta(weeks=52),
                t.occurred_at <= end,
            )
            .group_by(t.profile_id)
            .having(func.count().filter(before) > 0)
            .order_by(t.profile_id)
        )
        return await self._fetch(query, len(columns))

    def _target_lines(self, query: Any, target: TargetFilter) -> tuple[ColumnElement[bool], Any]:
        """Which lines are the target's (``query`` has the products joined)."""
        p, b, m = PRODUCTS.c, BRANDS.c, MANUFACTURERS.c
        if not target.keys:
            return false(), query
        if target.level == "department":
            return p.department.in_(target.keys), query
        if target.level == "category":
            return p.category.in_(target.keys), query
        if target.level == "brand":
            return p.brand_id.in_([int(key) for key in target.keys]), query
        query = query.join(BRANDS, b.id == p.brand_id).join(
            MANUFACTURERS, m.id == b.manufacturer_id
        )
        return m.name.in_(target.keys), query

    async def _category_spend(
        self,
        cutoff: datetime,
        ids: np.ndarray,
        spend_columns: Sequence[SpendColumn],
        excluded: Excluded,
    ) -> np.ndarray:
        """52-week spend per profile (rows as ``ids``) and spend column. A column names
        categories, and a name may be in a sensitive department too: those lines are left
        out, or the column less the totals would be their spend."""
        out = np.zeros((ids.shape[0], len(spend_columns)), dtype=np.float32)
        wanted = sorted({c for column in spend_columns for c in column.categories})
        if not wanted or ids.shape[0] == 0:
            return out
        t, p = LINES.c, PRODUCTS.c
        query = (
            select(p.category, t.profile_id, cast(func.sum(t.sales_value), Float))
            .select_from(LINES)
            .join(PRODUCTS, p.sku == t.sku)
            .where(
                t.profile_id.is_not(None),
                t.occurred_at > cutoff - timedelta(weeks=52),
                t.occurred_at <= cutoff,
                p.category.in_(wanted),
                *_kept(excluded),
            )
            .group_by(p.category, t.profile_id)
        )
        position = {name: i for i, name in enumerate(wanted)}
        per_category = np.zeros((ids.shape[0], len(wanted)), dtype=np.float32)
        result = await self.session.stream(query.execution_options(yield_per=FETCH_ROWS))
        async for chunk in result.partitions(FETCH_ROWS):
            cats = np.fromiter((position[r[0]] for r in chunk), np.int64, len(chunk))
            who = np.fromiter((r[1] for r in chunk), np.int64, len(chunk))
            amount = np.fromiter((r[2] for r in chunk), np.float32, len(chunk))
            rows = np.searchsorted(ids, who)
            per_category[rows, cats] = amount
        for j, column in enumerate(spend_columns):
            picks = [position[c] for c in column.categories if c in position]
            if picks:
                out[:, j] = per_category[:, picks].sum(axis=1)
        return out

    async def _fetch(self, query: Any, width: int) -> np.ndarray:
        result = await self.session.stream(query.execution_options(yield_per=FETCH_ROWS))
        parts = [
            np.array([tuple(row) for row in chunk], dtype=np.float64).reshape(-1, width)
            async for chunk in result.partitions(FETCH_ROWS)
        ]
        return np.vstack(parts) if parts else np.empty((0, width), np.float64)

    async def purchase_span(self) -> tuple[datetime, datetime] | None:
        """The first and the newest purchase by a known shopper (None before any)."""
        t = LINES.c
        query = select(func.min(t.occurred_at), func.max(t.occurred_at)).where(
            t.profile_id.is_not(None)
        )
        first, last = (await self.session.execute(query)).one()
        if first is None or last is None:
            return None
        kind, dialect = UTCDateTime(), self.session.bind.dialect
        start, end = (
            kind.process_result_value(first, dialect),
            kind.process_result_value(last, dialect),
        )
        return (start, end) if start is not None and end is not None else None

    async def category_tree(self) -> list[tuple[str, str]]:
        """Every (department, category) the catalog sells in, sorted."""
        p = PRODUCTS.c
        query = select(p.department, p.category).distinct().order_by(p.department, p.category)
        return [(d, c) for d, c in (await self.session.execute(query)).all()]
