"""Value clusters: k-means on scaled value and behaviour traits, with labels that keep
their meaning across refreshes.

The first clustering chooses k by silhouette on a sample (cheap on a million
profiles) and numbers its clusters by mean 12-month value, highest first. From
then on a label stands for its centroid, not for a rank: a later refresh keeps
k, starts k-means from the previous centroids, and gives each new cluster the
label of the previous centroid it matches (minimum total distance, Hungarian
method). k is chosen again only when asked, or when the kept k's silhouette
collapses (below ``SILHOUETTE_COLLAPSE`` of the last one). A cluster that no
previous centroid claims gets a label never issued before; a label whose
cluster is gone, or moved further than ``MAX_DRIFT``, is retired and never
issued again, so an audience rule on it selects nobody rather than other
shoppers. Drift (how far each kept label's centroid moved) is in standard
deviations of the current refresh's features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

K_CANDIDATES = (3, 4, 5, 6, 7, 8)  # few enough to read, enough to separate value groups
SILHOUETTE_SAMPLE = 5_000  # silhouette is quadratic; a sample ranks the candidates just as well
FIT_SAMPLE = 50_000  # centroids from a sample; every profile is then assigned to its nearest
# A kept k is chosen again when its silhouette falls below this share of the last one:
# the old number of groups no longer fits the shoppers.
SILHOUETTE_COLLAPSE = 0.5
# A centroid that moved further than this (in standard deviations of the features) is a
# different group of shoppers: its label retires instead of following it. Centroids sit
# about 2-3 apart; a refresh over a day's purchases moves them by hundredths.
MAX_DRIFT = 1.0
FEATURES = (
    "log_spend_52w",
    "log_baskets_52w",
    "log_avg_basket",
    "online_share",
    "promo_share",
    "log_clv_12m",
)

Matrix = NDArray[np.float64]


class KChoice:
    """Why a refresh has the k it has (reported to the marketer)."""

    FIRST = "chosen: first clustering"
    KEPT = "kept"
    ASKED = "chosen: asked for"
    COLLAPSED = "chosen: silhouette of the kept k collapsed"
    TOO_FEW = "chosen: too few profiles for the kept k"


@dataclass(frozen=True, slots=True)
class Previous:
    """The last clustering: its live labels and their centroids in feature space
    (unscaled, so that this refresh's scaler can place them)."""

    labels: tuple[int, ...]
    centroids: Matrix  # one row per label, in FEATURES order
    silhouette: float | None
    next_label: int  # the smallest label never issued


@dataclass(frozen=True, slots=True)
class Clustering:
    k: int
    silhouette: float
    labels: NDArray[np.int64]  # per profile
    silhouettes: dict[int, float]  # every k tried, for the report
    k_choice: str
    centroids: dict[int, list[float]]  # label -> centroid in this refresh's scaled space
    scaler_mean: list[float]
    scaler_scale: list[float]
    drift: dict[int, float] = field(default_factory=dict)  # kept label -> distance moved
    new_labels: tuple[int, ...] = ()
    retired_labels: tuple[int, ...] = ()


def features(
    spend: Matrix,
    baskets: Matrix,
    avg_basket: Matrix,
    online_share: Matrix,
    promo_share: Matrix,
    clv: Matrix,
) -> Matrix:
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
    matrix: Matrix,
    value: Matrix,
    *,
    previous: Previous | None = None,
    candidates: tuple[int, ...] | None = None,
    seed: int = 0,
) -> Clustering:
    """Cluster rows of ``matrix`` (:func:`features`); ``value`` (e.g. predicted 12-month
    value) orders the labels of a first clustering and of new clusters.

    With ``previous`` (and no ``candidates``) k is kept and the labels follow their
    centroids; ``candidates`` asks for k to be chosen again among them. Raises
    ValueError when there are too few rows to cluster.
    """
    n = len(matrix)
    scaler = StandardScaler().fit(matrix)
    scaled = scaler.transform(matrix)
    rng = np.random.default_rng(seed)
    fit_rows = scaled[rng.choice(n, size=min(n, FIT_SAMPLE), replace=False)]
    score_rows = fit_rows[
        rng.choice(len(fit_rows), size=min(len(fit_rows), SILHOUETTE_SAMPLE), replace=False)
    ]
    start = None
    if previous is not None and previous.labels:
        start = scaler.transform(previous.centroids)
    fitter = _Fitter(fit_rows, score_rows, start, rng, seed)

    silhouettes: dict[int, float] = {}
    model: KMeans | None = None
    choice = KChoice.FIRST if start is None else KChoice.ASKED
    if start is not None and candidates is None:
        kept = len(start)
        choice = KChoice.TOO_FEW
        if kept < n:
            model, score = fitter.fit(kept)
            silhouettes[kept] = score
            choice = KChoice.KEPT
            last = previous.silhouette if previous is not None else None
            if last is not None and last > 0 and score < SILHOUETTE_COLLAPSE * last:
                choice, model = KChoice.COLLAPSED, None
    if model is None:
        model = _choose(fitter, candidates or K_CANDIDATES, n, silhouettes)
    k = int(model.n_clusters)
    raw = model.predict(scaled)
    centres = np.asarray(model.cluster_centers_, dtype=np.float64)
    means = np.array([value[raw == c].mean() if np.any(raw == c) else -np.inf for c in range(k)])
    by_value = np.argsort(-means, kind="stable")  # highest mean value first
    relabel = np.empty(k, dtype=np.int64)
    drift: dict[int, float] = {}
    new: list[int] = []
    retired: tuple[int, ...] = ()
    next_label = previous.next_label if previous is not None else 1
    if start is None or previous is None:
        relabel[by_value] = np.arange(next_label, next_label + k)
        new = [int(v) for v in relabel[by_value]]
    else:
        matched, drift = _match(centres, start, previous.labels)
        for cluster_index in by_value:
            if cluster_index in matched:
                relabel[cluster_index] = matched[cluster_index]
            else:
                relabel[cluster_index] = next_label
                new.append(next_label)
                next_label += 1
        kept_labels = set(matched.values())
        retired = tuple(label for label in previous.labels if label not in kept_labels)
    return Clustering(
        k=k,
        silhouette=silhouettes[k],
        labels=relabel[raw],
        silhouettes=dict(sorted(silhouettes.items())),
        k_choice=choice,
        centroids={int(relabel[c]): [float(x) for x in centres[c]] for c in range(k)},
        scaler_mean=[float(x) for x in scaler.mean_],
        scaler_scale=[float(x) for x in scaler.scale_],
        drift=drift,
        new_labels=tuple(new),
        retired_labels=retired,
    )


def previous_from_labels(
    matrix: Matrix, labels: NDArray[np.int64], silhouette: float | None
) -> Previous | None:
    """The clustering the profiles' stored labels describe, for a database whose labels
    predate stored centroids: each label's centroid is its members' mean features."""
    known = labels[labels > 0]
    if len(known) == 0:
        return None
    issued = tuple(int(v) for v in np.unique(known))
    centroids = np.vstack([matrix[labels == label].mean(axis=0) for label in issued])
    return Previous(issued, centroids, silhouette, max(issued) + 1)


class _Fitter:
    """k-means on the fit sample, from the previous centroids where there are any."""

    def __init__(
        self,
        rows: Matrix,
        score_rows: Matrix,
        start: Matrix | None,
        rng: np.random.Generator,
        seed: int,
    ) -> None:
        self.rows, self.score_rows, self.start = rows, score_rows, start
        self.rng, self.seed = rng, seed

    def fit(self, k: int) -> tuple[KMeans, float]:
        if self.start is not None and len(self.start) <= k:
            init = _grow(self.start, self.rows, k - len(self.start), self.rng)
            model = KMeans(n_clusters=k, init=init, n_init=1, random_state=self.seed)
        else:  # first clustering, or fewer clusters than before: start afresh
            model = KMeans(n_clusters=k, n_init=3, random_state=self.seed)
        model.fit(self.rows)
        score = silhouette_score(self.score_rows, model.predict(self.score_rows))
        return model, float(score)


def _choose(
    fitter: _Fitter, candidates: tuple[int, ...], n: int, scores: dict[int, float]
) -> KMeans:
    usable = tuple(k for k in candidates if 1 < k < n)
    if not usable:
        raise ValueError(f"{n} profiles are too few to cluster")
    models: dict[int, KMeans] = {}
    for k in usable:
        models[k], scores[k] = fitter.fit(k)
    best = max(usable, key=lambda k: (scores[k], -k))
    return models[best]


def _grow(start: Matrix, rows: Matrix, extra: int, rng: np.random.Generator) -> Matrix:
    """The previous centroids plus ``extra`` new ones, seeded as k-means++ does: each at a
    row drawn with probability by its squared distance to the nearest centroid so far."""
    centres = [*start]
    for _ in range(extra):
        nearest = np.min(((rows[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        total = nearest.sum()
        index = rng.choice(len(rows), p=nearest / total) if total > 0 else rng.integers(len(rows))
        centres.append(rows[index])
    return np.asarray(centres, dtype=np.float64)


def _match(
    centres: Matrix, start: Matrix, labels: tuple[int, ...]
) -> tuple[dict[int, int], dict[int, float]]:
    """Cluster index -> previous label, by minimum total centroid distance; and each kept
    label's drift. A pair further apart than MAX_DRIFT is no match."""
    distance = np.sqrt(((centres[:, None, :] - start[None, :, :]) ** 2).sum(-1))
    matched: dict[int, int] = {}
    drift: dict[int, float] = {}
    for new, old in zip(*linear_sum_assignment(distance), strict=True):
        if distance[new, old] <= MAX_DRIFT:
            matched[int(new)] = labels[old]
            drift[labels[old]] = float(distance[new, old])
    return matched, drift
