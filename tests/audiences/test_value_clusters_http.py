"""The value clusters over real HTTP: what a ``{"cluster": [label]}`` rule targets, as the
retailer reads it (size, value, top categories by index), checked against the database."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import text

from endcap.client import EndcapAPIError, EndcapClient
from endcap.config import DatabaseSettings
from endcap.db.engine import create_engine
from endcap.privacy.settings import SENSITIVE_DEPARTMENTS

CATEGORY_SPEND = text(
    "SELECT t.value_cluster, s.key, sum(s.spend_52w) FROM profile_traits t"
    " JOIN profile_spend s ON s.profile_id = t.profile_id AND s.level = 'category'"
    " WHERE t.value_cluster IS NOT NULL GROUP BY t.value_cluster, s.key"
)
DEPARTMENTS = text("SELECT DISTINCT category, department FROM products")
SIZES = text(
    "SELECT value_cluster, count(*), avg(spend_52w) FROM profile_traits"
    " WHERE value_cluster IS NOT NULL GROUP BY value_cluster"
)


async def _from_the_database(url: str) -> tuple[list[Any], list[Any], set[str]]:
    """Category spend per cluster, sizes, and the categories sold in a sensitive
    department (the defaults: Pharmacy, Baby, Alcohol)."""
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.connect() as connection:
            spend = list((await connection.execute(CATEGORY_SPEND)).all())
            sizes = list((await connection.execute(SIZES)).all())
            places = list((await connection.execute(DEPARTMENTS)).all())
    finally:
        await engine.dispose()
    sensitive = {c for c, d in places if d in SENSITIVE_DEPARTMENTS}
    return spend, sizes, sensitive


def _expected_tops(
    spend: list[Any], sensitive: set[str]
) -> dict[int, list[tuple[str, float, float]]]:
    """Top ten by index among the categories holding 1% of the cluster's spend or more,
    with an index of 100 or more (as a refresh keeps them); shown: the first five of
    those that are not sensitive."""
    per: dict[int, dict[str, float]] = defaultdict(dict)
    everyone: dict[str, float] = defaultdict(float)
    for cluster, key, total in spend:
        per[int(cluster)][key] = float(total)
        everyone[key] += float(total)
    overall = sum(everyone.values())
    tops = {}
    for cluster, categories in per.items():
        own = sum(categories.values())
        scored = [
            (100 * (v / own) / (everyone[k] / overall), v, k)
            for k, v in categories.items()
            if v > 0 and v / own >= 0.01 and (v / own) / (everyone[k] / overall) >= 1
        ]
        scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
        kept = [(k, v / own, index) for index, v, k in scored[:10]]
        tops[cluster] = [top for top in kept if top[0] not in sensitive][:5]
    return tops


def test_the_retailer_reads_each_cluster_and_its_distinctive_categories(
    admin: EndcapClient, retailer: dict[str, Any], shop_database: str
) -> None:
    shown = admin.request("GET", "/api/v1/traits/clusters").json()
    spend, sizes, sensitive = asyncio.run(_from_the_database(shop_database))
    assert sensitive  # the synthetic catalog has them: the filter is tested

    clusters = shown["clusters"]
    assert shown["k"] == len(clusters) >= 2
    assert 0 < shown["silhouette"] <= 1
    assert [c["label"] for c in clusters] == list(range(1, shown["k"] + 1))
    counted = {int(label): (n, float(mean)) for label, n, mean in sizes}
    for cluster in clusters:
        n, mean = counted[cluster["label"]]
        assert cluster["profiles"] == n
        assert cluster["mean_spend_52w"] == pytest.approx(mean, rel=1e-9)
        # The rule that targets the cluster counts the same shoppers.
        rule = {"cluster": [cluster["label"]]}
        estimate = admin.request(
            "POST", "/api/v1/audiences/estimate", json={"rule": rule, "exact": True}
        ).json()
        assert estimate["size"] == n
    values = [c["mean_clv_12m"] for c in clusters]
    assert values == sorted(values, reverse=True)  # label 1 is the most valuable

    expected = _expected_tops(spend, sensitive)
    for cluster in clusters:
        tops = cluster["top_categories"]
        want = expected[cluster["label"]]
        assert [t["category"] for t in tops] == [k for k, _, _ in want]
        for top, (_, share, index) in zip(tops, want, strict=True):
            assert top["share"] == pytest.approx(share, abs=1e-4)
            assert top["index"] == pytest.approx(index, abs=0.1)
        assert [t["index"] for t in tops] == sorted((t["index"] for t in tops), reverse=True)
    shown = {t["category"] for c in clusters for t in c["top_categories"]}
    assert not shown & sensitive
    # Ranked by spend alone the clusters would all lead with the same big categories.
    assert len({tuple(t["category"] for t in c["top_categories"]) for c in clusters}) > 1
    assert clusters[0]["top_categories"][0]["index"] > 100


def test_a_brand_cannot_read_the_clusters(brand: EndcapClient) -> None:
    with pytest.raises(EndcapAPIError) as refused:
        brand.request("GET", "/api/v1/traits/clusters")
    assert refused.value.status == 403


def test_a_rule_on_a_cluster_never_issued_is_refused_naming_the_labels(
    admin: EndcapClient, retailer: dict[str, Any]
) -> None:
    live = [c["label"] for c in admin.request("GET", "/api/v1/traits/clusters").json()["clusters"]]
    rule = {"and": [{"cluster": [live[0], 999]}, {"trait": "baskets_52w", "op": ">=", "value": 1}]}
    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule})
    assert refused.value.status == 422
    [error] = refused.value.problem["errors"]
    assert error["field"] == "/rule/and/0"
    assert error["message"].startswith("no value cluster 999 (labels issued: 1 to ")
    with pytest.raises(EndcapAPIError) as saved:
        admin.request("POST", "/api/v1/audiences", json={"name": "nobody", "rule": rule})
    assert saved.value.status == 422
    # The labels that exist are fine, in the trait form too.
    labelled = {"trait": "value_cluster", "op": "in", "value": live}
    answer = admin.request(
        "POST", "/api/v1/audiences/estimate", json={"rule": labelled, "exact": True}
    ).json()
    assert answer["size"] > 0
