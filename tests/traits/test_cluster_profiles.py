"""Top categories of a value cluster: ranked by index, not by spend (cluster_profiles.py)."""

from __future__ import annotations

from decimal import Decimal

from endcap.traits.cluster_profiles import top_categories


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


def test_at_most_five_and_ties_go_to_more_spend_then_the_name() -> None:
    rows = [(1, name, Decimal(10)) for name in "FEDCBA"] + [(1, "G", Decimal(20))]
    tops = top_categories(rows)
    assert [t["category"] for t in tops[1]] == ["G", "A", "B", "C", "D"]
    assert {t["index"] for t in tops[1]} == {100.0}


def test_returns_that_cancel_a_category_out_leave_it_unranked_instead_of_failing() -> None:
    rows = [
        (1, "Milk", Decimal("100")), (1, "Beer", Decimal("-20")),
        (2, "Milk", Decimal("100")), (2, "Beer", Decimal("20")),
    ]  # fmt: skip
    tops = top_categories(rows)  # Beer sums to 0 over everyone: no index
    assert [t["category"] for t in tops[1]] == ["Milk"]  # 125% of its net spend
    assert all(t["category"] != "Beer" for t in tops[2])
