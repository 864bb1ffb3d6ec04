"""Value clusters as a marketer reads them: size, value, behaviour, and the categories
that set each cluster apart.

Ranked by spend alone, every cluster's top categories are the store's biggest ones (on
the synthetic retailer all three clusters showed the same five), which says nothing about
the cluster. So a category is ranked by its index: its share of the cluster's 52-week spend
over its share of all clustered shoppers' spend (100: as much as everyone; 200: twice).
Only categories holding at least :data:`MIN_SHARE` of the cluster's spend are ranked, so
that a category a handful of its shoppers bought once does not lead, and only those with an
index of 100 or more are listed: fewer than five when few set the cluster apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.repository import AudienceRepository
from endcap.privacy.sensitive import SensitiveCategories
from endcap.traits.repository import ClusterRepository
from endcap.traits.schemas import ClusterCategory, ValueClusterPublic, ValueClustersPublic

TOP_CATEGORIES: Final = 5  # enough to characterise a cluster at a glance
# Kept at a refresh: the sensitive ones are left out when shown (the retailer may mark
# more after the refresh), and five should remain.
KEPT_CATEGORIES: Final = 10
MIN_SHARE: Final = Decimal("0.01")


def top_categories(rows: Iterable[tuple[int, str, Decimal]]) -> dict[int, list[dict[str, Any]]]:
    """Per cluster, from its (cluster, category, spend) rows: its top categories by index,
    each with its share of the cluster's spend and its index (ties: more spend, then name)."""
    spend: dict[int, dict[str, Decimal]] = defaultdict(dict)
    everyone: dict[str, Decimal] = defaultdict(Decimal)
    for cluster, category, total in rows:
        spend[cluster][category] = total
        everyone[category] += total
    overall = sum(everyone.values(), Decimal(0))
    tops: dict[int, list[dict[str, Any]]] = {}
    for cluster, categories in spend.items():
        own = sum(categories.values(), Decimal(0))
        ranked = []
        for category, total in categories.items():
            # Returns can make a sum zero or negative: no share to speak of then.
            if min(own, total, everyone[category], overall) <= 0 or total / own < MIN_SHARE:
                continue
            share = total / own
            index = 100 * share / (everyone[category] / overall)
            if index < 100:  # bought less than by everyone: it does not set the cluster apart
                continue
            ranked.append((-index, -total, category, share))
        ranked.sort()
        tops[cluster] = [
            {"category": category, "share": round(float(share), 4), "index": round(-float(i), 1)}
            for i, _total, category, share in ranked[:KEPT_CATEGORIES]
        ]
    return tops


async def value_clusters(
    session: AsyncSession, sensitive: SensitiveCategories
) -> ValueClustersPublic:
    """The live clusters (as the last refresh left them), label 1 the most valuable. A
    sensitive category (or one sold in a sensitive department) is never shown as what
    sets a cluster apart: "cluster 3: Alcohol, index 300" would make the cluster a proxy
    for it."""
    found = await ClusterRepository(session).all()
    departments: dict[str, set[str]] = {}
    for department, category in await AudienceRepository(session).departments_and_categories():
        departments.setdefault(category, set()).add(department)

    shown = set(ValueClusterPublic.model_fields) - {"top_categories"}
    clusters = [
        ValueClusterPublic(
            **c.model_dump(include=shown),
            top_categories=[
                category
                for category in map(_category, c.top_categories)
                if not sensitive.holds(category.category, departments.get(category.category, ()))
            ][:TOP_CATEGORIES],
        )
        for c in found
    ]
    first = found[0] if found else None
    return ValueClustersPublic(
        k=first.k if first else None,
        silhouette=first.silhouette if first else None,
        refreshed_at=first.refreshed_at if first else None,
        clusters=clusters,
    )


def _category(entry: Any) -> ClusterCategory:
    # Refreshes before this module stored the names alone, ranked by spend.
    if isinstance(entry, str):
        return ClusterCategory(category=entry, share=None, index=None)
    return ClusterCategory.model_validate(entry)
