"""Top categories of a value cluster: ranked by index, not by spend (cluster_profiles.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.privacy.sensitive import SensitiveCategories
from endcap.traits.cluster_profiles import top_categories, value_clusters
from endcap.traits.models import ValueCluster


def test_a_cluster_leads_with_what_it_buys_more_than_everyone_not_with_the_big_categories() -> None:
    rows = [
        # Milk is the big category for everyone; cluster 1 over-buys Wine, cluster 2 Baby.
        (1, "Milk", Decimal("600")), (1, "Wine", Decimal("300")), (1, "Baby", Decimal("100")),
        (2, "Milk", Decimal("600")), (2, "Wine", Decimal("100")), (2, "Baby", Decimal("300")),
        # Cluster 2 also bought Caviar once: under 1% of its spend, not ranked at all.
        (2, "Caviar", Decimal("5")),
    ]  # fmt: skip
    tops = top_categories(rows)

    # Under 100 nothing is listed: Baby for cluster 1, Wine for cluster 2, and Milk for
    # cluster 2 (59.7% of its spend against 59.85% of everyone's; cluster 1: 60%).
    assert [t["category"] for t in tops[1]] == ["Wine", "Milk"]
    assert [t["category"] for t in tops[2]] == ["Baby"]
    # Wine: 30% of cluster 1's spend, 400 of everyone's 2,005 (19.95%).
    assert tops[1][0]["share"] == 0.3
    assert tops[1][0]["index"] == round(100 * 0.3 / (400 / 2005), 1)
    assert all(t["category"] != "Caviar" for t in tops[2])


def test_a_refresh_keeps_ten_and_ties_go_to_more_spend_then_the_name() -> None:
    rows = [(1, name, Decimal(10)) for name in "LKJIHFEDCBA"] + [(1, "G", Decimal(20))]
    tops = top_categories(rows)
    # Ten kept (five are shown, once the sensitive ones are left out: value_clusters).
    assert [t["category"] for t in tops[1]] == ["G", *"ABCDEFHIJ"]
    assert {t["index"] for t in tops[1]} == {100.0}


def test_returns_that_cancel_a_category_out_leave_it_unranked_instead_of_failing() -> None:
    rows = [
        (1, "Milk", Decimal("100")), (1, "Beer", Decimal("-20")),
        (2, "Milk", Decimal("100")), (2, "Beer", Decimal("20")),
    ]  # fmt: skip
    tops = top_categories(rows)  # Beer sums to 0 over everyone: no index
    assert [t["category"] for t in tops[1]] == ["Milk"]  # 125% of its net spend
    assert all(t["category"] != "Beer" for t in tops[2])


async def test_the_retailer_never_sees_a_sensitive_category_as_what_sets_a_cluster_apart(
    session: AsyncSession,
) -> None:
    await session.execute(delete(ValueCluster))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    session.add(
        ValueCluster(
            label=1, profiles=1200, mean_spend_52w=900.0, mean_baskets_52w=30.0,
            mean_clv_12m=500.0, online_share=0.2, promo_share=0.1,
            top_categories=[
                {"category": "Wine", "share": 0.3, "index": 300.0},
                "Cheese",  # as refreshes before the index stored them: a name alone
                {"category": "Milk", "share": 0.4, "index": 120.0},
            ],
            k=3, silhouette=0.31, drift=None, refreshed_at=now,
        )
    )  # fmt: skip
    await session.flush()

    shown = await value_clusters(session, SensitiveCategories(departments=(), categories=("wine",)))

    assert (shown.k, shown.silhouette, shown.refreshed_at) == (3, 0.31, now)
    [cluster] = shown.clusters
    assert [(c.category, c.share, c.index) for c in cluster.top_categories] == [
        ("Cheese", None, None),
        ("Milk", 0.4, 120.0),
    ]
