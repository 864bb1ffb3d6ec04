"""Value clusters: k-means on scaled value and behaviour traits.

k is chosen by silhouette on a sample (cheap on a million profiles), and
labels are ordered by mean 12-month value, highest first, so that "cluster 1"
means the same thing after every refresh a marketer reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

K_CANDIDATES = (3, 4, 5, 6, 7, 8)  # few enough to read, enough to separate value groups
SILHOUETTE_SAMPLE = 5_000  # silhouette is quadratic; a sample ranks the candidates just as well
FIT_SAMPLE = 50_000  # centroids from a sample; every profile is then assigned to its nearest
FEATURES = (
    "log_spend_52w",
    "log_baskets_52w",
    "log_avg_basket",
    "online_share",
    "promo_share",
    "log_clv_12m",
)


@dataclass(frozen=True, slots=True)
class Clustering:
    k: int
    silhouette: float
    labels: NDArray[np.int64]  # 1..k per profile, 1 = highest mean value
    silhouettes: dict[int, float]  # every candidate k, for the report


def features(
    spend: NDArray[np.float64],
    baskets: NDArray[np.float64],
    avg_basket: NDArray[np.float64],
    online_share: NDArray[np.float64],
    promo_share: NDArray[np.float64],
    clv: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Money and counts are log-scaled: their tails would otherwise make every cluster."""
    return np.column_stack(
        [
            np.log1p(spend),
            np.log1p(baskets),
            np.log1p(avg_basket),
            online_share,
            promo_share,
            np.log1p(clv),
        ]
    ).astype(np.float64)


def cluster(
    matrix: NDArray[np.float64],
    value: NDArray[np.float64],
    *,
    seed: int = 0,
    candidates: tuple[int, ...] = K_CANDIDATES,
) -> Clustering:
    """Cluster rows of ``matrix``; ``value`` (e.g. predicted 12-month value) orders the labels."""
    n = len(matrix)
    usable = tuple(k for k in candidates if k < n)
    if not usable:
        raise ValueError(f"{n} profiles are too few to cluster")
    scaled = StandardScaler().fit_transform(matrix)
    rng = np.random.default_rng(seed)
    fit_rows = scaled[rng.choice(n, size=min(n, FIT_SAMPLE), replace=False)]
    score_rows = rng.choice(
        len(fit_rows), size=min(len(fit_rows), SILHOUETTE_SAMPLE), replace=False
    )
    silhouettes: dict[int, float] = {}
    models: dict[int, KMeans] = {}
    for k in usable:
        model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(fit_rows)
        models[k] = model
        silhouettes[k] = float(silhouette_score(fit_rows[score_rows], model.labels_[score_rows]))
    best = max(silhouettes, key=lambda k: (silhouettes[k], -k))
    raw = models[best].predict(scaled)
    means = np.array([value[raw == c].mean() if np.any(raw == c) else -np.inf for c in range(best)])
    order = np.argsort(-means, kind="stable")  # cluster with the highest mean value first
    relabel = np.empty(best, dtype=np.int64)
    relabel[order] = np.arange(1, best + 1)
    return Clustering(
        k=best, silhouette=silhouettes[best], labels=relabel[raw], silhouettes=silhouettes
    )
