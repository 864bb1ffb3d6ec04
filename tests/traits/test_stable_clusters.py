"""Value-cluster labels keep their meaning across refreshes.

A synthetic retailer is loaded except its last days and a few shoppers; a
refresh clusters it; then the rest arrives and a second refresh runs. A label
must stay on the cluster nearest to its previous centroid, shoppers must keep
their labels, and an audience rule on a cluster must select the same shoppers.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.estimate import members_query
from endcap.config import Settings
from endcap.ingest.service import IngestService
from endcap.privacy.sensitive import SensitiveCategories
from endcap.synthetic import generate
from endcap.traits.models import ProfileTraits, ValueCluster, ValueClusterLabel
from endcap.traits.service import RefreshMode, TraitsService
from tests.traits.shop import own_the_purchases, split_history

PROFILES = 1500
NEWCOMER_EVERY = 50  # one shopper in 50 only arrives with the second load
NOTHING_SENSITIVE = SensitiveCategories(departments=(), categories=())


async def _load_in_two(session: AsyncSession, settings: Settings, folder: Path) -> list[Path]:
    """Load the shop but its last days and every 50th shopper; return what is left."""
    await own_the_purchases(session)
    summary = generate(folder / "shop", PROFILES, seed=11)
    history, later, _ = split_history(Path(summary.paths["transactions"]), folder)
    newcomers = _hold_back_shoppers(history, folder / "newcomers.csv")
    ingest = IngestService(session, settings)
    for entity in ("products", "stores", "customers", "identifiers"):
        assert (await ingest.load(entity, Path(summary.paths[entity]))).status == "loaded"
    assert (await ingest.load("transactions", history)).status == "loaded"
    return [later, newcomers]


def _hold_back_shoppers(history: Path, newcomers: Path) -> Path:
    with history.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    shoppers = sorted({r["customer_id"] for r in rows if r["customer_id"]})
    held = set(shoppers[::NEWCOMER_EVERY])
    for path, part in (
        (history, [r for r in rows if r["customer_id"] not in held]),
        (newcomers, [r for r in rows if r["customer_id"] in held]),
    ):
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part)
    return newcomers


async def _load_rest(session: AsyncSession, settings: Settings, files: list[Path]) -> None:
    ingest = IngestService(session, settings)
    for path in files:
        assert (await ingest.load("transactions", path)).status == "loaded"


async def _labels(session: AsyncSession) -> dict[int, int]:
    query = select(ProfileTraits.profile_id, ProfileTraits.value_cluster)  # type: ignore[call-overload]
    return {int(p): int(c) for p, c in (await session.execute(query)).all()}


async def _centroids(session: AsyncSession) -> dict[int, np.ndarray]:
    """Live labels' centroids in feature space (unscaled), comparable across refreshes."""
    rows = (
        await session.execute(
            select(ValueClusterLabel).where(ValueClusterLabel.retired_at.is_(None))  # type: ignore[union-attr]
        )
    ).scalars()
    return {
        r.label: np.asarray(r.centroid) * np.asarray(r.scaler_scale) + np.asarray(r.scaler_mean)
        for r in rows
    }


def _agreement(before: dict[int, int], after: dict[int, int]) -> float:
    stayed = [p for p in before if p in after]
    return sum(before[p] == after[p] for p in stayed) / len(stayed)


async def test_a_refresh_over_more_purchases_keeps_each_label_on_its_nearest_cluster(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    rest = await _load_in_two(session, settings, tmp_path)
    service = TraitsService(session)
    first = await service.refresh()
    assert first.clusters is not None
    k = first.clusters["k"]
    before, old_centroids = await _labels(session), await _centroids(session)
    assert sorted(old_centroids) == list(range(1, k + 1))

    await _load_rest(session, settings, rest)
    second = await service.refresh(mode=RefreshMode.FULL)

    clusters: dict[str, Any] | None = second.clusters
    assert clusters is not None
    assert second.profiles > first.profiles + PROFILES // NEWCOMER_EVERY // 2  # newcomers
    assert clusters["k"] == k
    assert clusters["k_choice"] == "kept"
    assert clusters["new_labels"] == []
    assert clusters["retired_labels"] == []
    after, new_centroids = await _labels(session), await _centroids(session)
    assert sorted(new_centroids) == sorted(old_centroids)
    for label, old in old_centroids.items():
        nearest = min(new_centroids, key=lambda c: float(np.linalg.norm(new_centroids[c] - old)))
        assert nearest == label, f"label {label} moved off its nearest cluster"
    # Every kept label reports how far it moved, and a few more purchases move it little.
    assert sorted(int(label) for label in clusters["drift"]) == sorted(old_centroids)
    assert all(0 <= d < 0.25 for d in clusters["drift"].values()), clusters["drift"]
    stored = {c.label: c.drift for c in (await session.execute(select(ValueCluster))).scalars()}
    assert sorted(stored) == sorted(old_centroids)
    for label, drift in clusters["drift"].items():
        assert stored[int(label)] == pytest.approx(drift, abs=1e-4)
    agreement = _agreement(before, after)
    assert agreement >= 0.95, f"only {agreement:.1%} of shoppers kept their label"
    assert clusters["kept_label_share"] == round(agreement, 4)


async def test_an_audience_rule_on_a_cluster_keeps_its_shoppers_after_a_refresh(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    rest = await _load_in_two(session, settings, tmp_path)
    service = TraitsService(session)
    first = await service.refresh()
    assert first.clusters is not None
    rule = {"cluster": [1]}  # the most valuable cluster at the first refresh
    query = await members_query(session, rule, sensitive=NOTHING_SENSITIVE)
    chosen = {row[0] for row in (await session.execute(query)).all()}
    assert len(chosen) >= 20

    await _load_rest(session, settings, rest)
    await service.refresh()

    query = await members_query(session, rule, sensitive=NOTHING_SENSITIVE)
    now = {row[0] for row in (await session.execute(query)).all()}
    kept = len(chosen & now) / len(chosen)
    joined = len(now - chosen) / len(now)
    assert kept >= 0.95, f"the rule lost {1 - kept:.1%} of its shoppers"
    assert joined <= 0.1, f"{joined:.1%} of the rule's shoppers are new to it"


async def test_k_grows_only_when_asked_with_a_new_label_and_retired_labels_never_return(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    rest = await _load_in_two(session, settings, tmp_path)
    service = TraitsService(session)
    first = await service.refresh()
    assert first.clusters is not None
    k = first.clusters["k"]
    before = await _labels(session)
    await _load_rest(session, settings, rest)

    grown = await service.refresh(k_candidates=(k + 1,))

    assert grown.clusters is not None
    assert grown.clusters["k"] == k + 1
    assert grown.clusters["k_choice"] == "chosen: asked for"
    assert grown.clusters["new_labels"] == [k + 1]
    assert grown.clusters["retired_labels"] == []
    assert sorted(int(s) for s in grown.clusters["sizes"]) == list(range(1, k + 2))
    after = await _labels(session)
    # The new cluster takes shoppers from the old ones; those left under an old label
    # had that label before.
    still_old = [p for p, label in after.items() if label <= k and p in before]
    precision = sum(before[p] == after[p] for p in still_old) / len(still_old)
    assert precision >= 0.9, f"only {precision:.1%} of old-label shoppers had that label"

    shrunk = await service.refresh(k_candidates=(k,))
    assert shrunk.clusters is not None
    assert shrunk.clusters["k"] == k
    retired = shrunk.clusters["retired_labels"]
    assert len(retired) >= 1
    regrown = await service.refresh(k_candidates=(k + 1,))
    assert regrown.clusters is not None
    live = {int(s) for s in regrown.clusters["sizes"]}
    assert not live & set(retired), "a retired label was issued again"
    assert max(live) > k + 1
    labels = (await session.execute(select(ValueClusterLabel))).scalars().all()
    assert {r.label for r in labels if r.retired_at is not None} >= set(retired)
