"""The value steps on a synthetic retailer: BG/NBD + Gamma-Gamma scores, tiers, clusters."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings, Settings
from endcap.ingest.contract import LOAD_ORDER
from endcap.ingest.service import IngestService
from endcap.synthetic import generate
from endcap.traits.models import ProfileTraits, ValueCluster
from endcap.traits.service import TraitsService


@pytest.fixture
def settings(database_settings: DatabaseSettings) -> Settings:
    chosen = Settings()
    chosen.database = database_settings
    return chosen


async def test_value_scores_tiers_and_clusters(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await session.execute(text("DELETE FROM transactions"))  # this test owns the purchases
    summary = generate(tmp_path / "retailer", 1500, seed=11)
    for entity in LOAD_ORDER:
        report = await IngestService(session, settings).load(entity, Path(summary.paths[entity]))
        assert report.status == "loaded", report.rejections[:3]

    report = await TraitsService(session).refresh()

    assert report.value_model is not None
    assert report.value_model["fitted"] is True
    assert report.value_model["bgnbd"]["converged"] is True
    traits = list((await session.execute(select(ProfileTraits))).scalars())
    assert len(traits) == report.profiles
    assert all(t.p_alive is not None and 0.0 <= t.p_alive <= 1.0 for t in traits)
    assert all(t.clv_12m is not None and t.clv_12m >= 0 for t in traits)
    tiers = report.value_model["tiers"]
    active = sum(n for tier, n in tiers.items() if tier != "lapsed")
    assert tiers["top"] == round(active * 0.10)
    assert tiers["top"] + tiers["high"] == round(active * 0.30)
    # The top tier is worth more than the low tier, on average, by a wide margin.
    top = [float(t.clv_12m or 0) for t in traits if t.value_tier == "top"]
    low = [float(t.clv_12m or 0) for t in traits if t.value_tier == "low"]
    assert sum(top) / len(top) > 3 * sum(low) / len(low)

    assert report.clusters is not None
    k = report.clusters["k"]
    assert 3 <= k <= 8
    clusters = list(
        (await session.execute(select(ValueCluster).order_by(ValueCluster.label))).scalars()
    )  # type: ignore[arg-type]
    assert [c.label for c in clusters] == list(range(1, k + 1))
    assert sum(c.profiles for c in clusters) == report.profiles
    values = [c.mean_clv_12m for c in clusters]
    assert values == sorted(values, reverse=True)  # label 1 is the most valuable
    assert all(c.top_categories for c in clusters)
    unassigned = await session.scalar(
        select(func.count()).select_from(ProfileTraits).where(ProfileTraits.value_cluster.is_(None))  # type: ignore[union-attr]
    )
    assert unassigned == 0
