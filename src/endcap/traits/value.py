"""The value steps of a refresh: BG/NBD + Gamma-Gamma per profile, tiers, clusters.

Time is in weeks. A basket (one transaction id) is one purchase occasion:
frequency is the number of repeat baskets, recency the weeks from the first to
the last basket, age the weeks from the first basket to ``as_of``. The spend
model takes each profile's mean basket value (of all baskets, a close stand-in
for the mean of repeat baskets that the paper uses).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.db.bulk import update_from_rows
from endcap.db.types import UTCDateTime, utcnow
from endcap.traits import clv
from endcap.traits.cluster_labels import ClusterLabelRepository
from endcap.traits.cluster_profiles import top_categories
from endcap.traits.clusters import (
    FEATURES,
    Clustering,
    Previous,
    cluster,
    features,
    previous_from_labels,
)
from endcap.traits.models import ProfileSpend, ProfileTraits, ValueClusterLabel
from endcap.traits.repository import ClusterRepository, TraitsRepository

WEEK_SECONDS = 7 * 24 * 3600
HORIZON_WEEKS = 52.18  # twelve months
SMALLEST_VALUE = 0.01  # zero-value baskets (free items) still count as a purchase occasion
TRAITS = table_of(ProfileTraits)
SPEND = table_of(ProfileSpend)


def _weeks(values: list[Any], session: AsyncSession) -> np.ndarray:
    dialect = session.bind.dialect
    stamps = [UTCDateTime().process_result_value(v, dialect) for v in values]
    return (
        np.asarray([s.timestamp() for s in stamps if s is not None], dtype=np.float64)
        / WEEK_SECONDS
    )


@dataclass(slots=True)
class ValueScores:
    """The value step's report, and its per-profile columns (in profile id order) for
    :func:`assign_clusters` to store together with the clusters: one rewrite of every
    ``profile_traits`` row instead of two."""

    report: dict[str, Any] | None
    columns: dict[str, Any] | None = None


async def score_value(
    session: AsyncSession, as_of: datetime, traits_table: Table = TRAITS
) -> ValueScores:
    """Fit both models on every profile (of ``traits_table``: the table holding this
    refresh's traits rows): expected baskets, P(alive), 12-month value and tier. No
    columns when the data cannot support a fit (report None: too few profiles)."""
    rows = await TraitsRepository(session, traits_table).rfm_inputs()
    if len(rows) < 2:
        return ValueScores(None)
    profile_ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    baskets = np.asarray([r[1] for r in rows], dtype=np.float64)
    first = _weeks([r[2] for r in rows], session)
    last = _weeks([r[3] for r in rows], session)
    mean_value = np.maximum(np.asarray([float(r[4] or 0) for r in rows]), SMALLEST_VALUE)
    x = baskets - 1
    recency = np.maximum(last - first, 0.0)
    age = np.maximum(as_of.timestamp() / WEEK_SECONDS - first, recency)
    try:
        # Fits run in a thread: the job's loop must stay free to renew its lease.
        purchases = await asyncio.to_thread(clv.fit_bgnbd, x, recency, age)
        spend = await asyncio.to_thread(clv.fit_gamma_gamma, x, mean_value)
    except (clv.CLVInputError, clv.CLVConvergenceError) as exc:
        return ValueScores({"fitted": False, "reason": str(exc)})
    alive = clv.probability_alive(purchases.params, x, recency, age)
    expected = clv.expected_transactions(purchases.params, x, recency, age, HORIZON_WEEKS)
    value = expected * clv.expected_average_value(spend.params, x, mean_value)
    tiers = clv.assign_value_tiers(value, alive)
    columns = {
        "profile_id": profile_ids,
        # Every row is rewritten anyway: an incremental refresh's new as_of reaches the
        # profiles it did not recompute at no extra cost.
        "as_of": pa.array([as_of] * len(profile_ids), pa.timestamp("us", tz="UTC")),
        "expected_baskets_12m": expected,
        "p_alive": alive,
        "clv_12m": np.round(value, 2),
        "value_tier": pa.array(tiers.tolist(), pa.string()),
    }
    p, g = purchases.params, spend.params
    report = {
        "fitted": True,
        "profiles": len(rows),
        "bgnbd": {"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b, "converged": purchases.converged},
        "gamma_gamma": {"p": g.p, "q": g.q, "gamma": g.gamma, "converged": spend.converged},
        "tiers": {
            str(t): int(n) for t, n in zip(*np.unique(tiers, return_counts=True), strict=True)
        },
        "mean_clv_12m": round(float(value.mean()), 2),
    }
    return ValueScores(report, columns)


async def assign_clusters(
    session: AsyncSession,
    scores: ValueScores,
    spend_table: Table = SPEND,
    *,
    k_candidates: tuple[int, ...] | None = None,
    before: Table | None = None,
    traits_table: Table = TRAITS,
) -> dict[str, Any] | None:
    """k-means value clusters, stored on every profile with ``scores``' columns (one
    UPDATE), and a readable summary per cluster (its top categories from
    ``spend_table``: the table holding this refresh's spend rows; ``traits_table``
    holds its traits rows).

    Labels keep their meaning across refreshes (traits/clusters.py): k is kept unless
    ``k_candidates`` asks for it to be chosen again among them. ``before`` holds the
    profiles' labels before this refresh (:meth:`ClusterLabelRepository.remember_labels`)
    for the report's share of shoppers who kept theirs; without it, the labels stored
    on the traits rows now count as before."""
    rows = await TraitsRepository(session, traits_table).clustering_inputs()
    profile_ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    columns = dict(scores.columns) if scores.columns else {"profile_id": profile_ids}
    if not np.array_equal(columns["profile_id"], profile_ids):
        raise RuntimeError("value scores and cluster inputs list different profiles")
    result = None
    labels = ClusterLabelRepository(session, traits_table)
    remembered = before if before is not None else await labels.remember_labels()
    now = utcnow()
    if len(rows) >= 10:
        data = np.asarray([[float(v or 0) for v in r[1:]] for r in rows], dtype=np.float64)
        spend, baskets, avg_basket, online, promo, stored_value, _alive = data.T
        value = np.asarray(columns.get("clv_12m", stored_value), dtype=np.float64)
        matrix = features(spend, baskets, avg_basket, online, promo, value)
        previous = await _previous(labels, matrix, profile_ids, remembered)
        result = await asyncio.to_thread(  # off the job's loop, as the fits
            cluster, matrix, value, previous=previous, candidates=k_candidates
        )
        columns["value_cluster"] = result.labels
    if len(columns) > 1:
        await update_from_rows(session, traits_table, "profile_id", pa.table(columns))
    kept_share = await labels.kept_share(remembered) if result is not None else None
    if before is None:
        await labels.forget_labels(remembered)
    if result is None:
        return None
    await labels.save(await _label_rows(labels, result, now), now)
    clusters = ClusterRepository(session, traits_table)
    tops = top_categories(await clusters.category_spend(spend_table))
    rows = await clusters.summaries()
    summary = [
        {
            "label": int(label),
            "profiles": int(size),
            "mean_spend_52w": float(mean_spend or 0),
            "mean_baskets_52w": float(mean_baskets or 0),
            "mean_clv_12m": float(mean_clv or 0),
            "online_share": float(online_share or 0),
            "promo_share": float(promo_share or 0),
            "top_categories": tops.get(int(label), []),
            "k": result.k,
            "silhouette": result.silhouette,
            "drift": result.drift.get(int(label)),
            "refreshed_at": now,
        }
        for label, size, mean_spend, mean_baskets, mean_clv, online_share, promo_share in rows
    ]
    await clusters.replace(summary)
    return {
        "k": result.k,
        "k_choice": result.k_choice,
        "silhouette": round(result.silhouette, 4),
        "silhouettes": {str(k): round(v, 4) for k, v in result.silhouettes.items()},
        "sizes": {str(s["label"]): s["profiles"] for s in summary},
        "drift": {str(label): round(d, 4) for label, d in sorted(result.drift.items())},
        "new_labels": list(result.new_labels),
        "retired_labels": list(result.retired_labels),
        # Of the profiles that had a label before this refresh, the share that kept it.
        "kept_label_share": None if kept_share is None else round(kept_share, 4),
    }


async def _previous(
    labels: ClusterLabelRepository,
    matrix: np.ndarray,
    profile_ids: np.ndarray,
    before: Table,
) -> Previous | None:
    """The last clustering, from the stored centroids; from the profiles' labels when
    those predate stored centroids (a database migrated from an earlier version)."""
    silhouette = await labels.last_silhouette()
    highest = await labels.highest_issued()
    if highest is None:
        rows = await labels.labels_before(before)
        if not np.array_equal(np.asarray([r[0] for r in rows], dtype=np.int64), profile_ids):
            raise RuntimeError("cluster inputs and stored labels list different profiles")
        current = np.asarray([r[1] or 0 for r in rows], dtype=np.int64)
        return previous_from_labels(matrix, current, silhouette)
    live = [row for row in await labels.live() if tuple(row.features) == FEATURES]
    centroids = np.asarray(
        [
            np.asarray(row.centroid) * np.asarray(row.scaler_scale) + np.asarray(row.scaler_mean)
            for row in live
        ],
        dtype=np.float64,
    ).reshape(len(live), len(FEATURES))
    return Previous(tuple(row.label for row in live), centroids, silhouette, highest + 1)


async def _label_rows(
    labels: ClusterLabelRepository, result: Clustering, now: datetime
) -> list[ValueClusterLabel]:
    """The label rows of ``result``: kept labels keep their issue date."""
    issued = {row.label: row for row in await labels.live()}
    rows = []
    for label, centroid in sorted(result.centroids.items()):
        row = issued.get(label) or ValueClusterLabel(
            label=label,
            features=list(FEATURES),
            centroid=centroid,
            scaler_mean=result.scaler_mean,
            scaler_scale=result.scaler_scale,
            issued_at=now,
            refreshed_at=now,
        )
        row.features = list(FEATURES)
        row.centroid = centroid
        row.scaler_mean = result.scaler_mean
        row.scaler_scale = result.scaler_scale
        row.refreshed_at = now
        rows.append(row)
    return rows
