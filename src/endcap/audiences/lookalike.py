"""Lookalike: expand a seed list to a reach with the shoppers most like it.

Positive-unlabelled learning (Elkan & Noto 2008): the seed is a sample of the
people we want, and everyone else is *unlabelled* (some of them are just like
the seed, which is the point), not negative. A classifier learns seed versus a
random sample of the base; on seed members it never saw, its mean score ``c``
estimates how likely a seed-like shopper is to be labelled, so ``score / c``
(capped at 1) reads as "how seed-like" a shopper is: 1.0 is as seed-like as the
seed itself.

A fifth of the matched seed is held out: the share of those found within a
given expansion (their score ranks inside it) is the *recall* column of the
reach curve, the honest measure of whether the expansion finds seed-like
people or just big spenders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from endcap.audiences.features import FeatureFrame
from endcap.errors import ConflictError

HOLDOUT_SHARE: Final = 0.2
# The seed members with purchase history that a model can learn from.
MIN_MODEL_SEED: Final = 50
# Unlabelled rows drawn per seed row: enough to see the base, few enough to stay fast.
UNLABELLED_PER_SEED: Final = 10
MIN_UNLABELLED: Final = 20_000
MAX_TRAIN_ROWS: Final = 300_000
CURVE_MULTIPLES: Final = (1, 2, 3, 5, 10, 20, 50, 100)


@dataclass(frozen=True, slots=True)
class Expansion:
    added: np.ndarray  # profile ids outside the seed, most seed-like first
    report: dict[str, Any]


def expand_seed(
    frame: FeatureFrame, seed_ids: np.ndarray, *, reach: int, random_seed: int
) -> Expansion:
    """The ``reach - len(seed_ids)`` most seed-like profiles of ``frame`` outside the seed.

    ``seed_ids`` are every matched seed profile (sorted); those in ``frame`` (with
    purchase history) are the positives. Raises :class:`ConflictError` when too few
    seed members have history to learn from.
    """
    in_seed = np.isin(frame.profile_ids, seed_ids, assume_unique=True)
    positives = np.flatnonzero(in_seed)
    unlabelled = np.flatnonzero(~in_seed)
    if positives.shape[0] < MIN_MODEL_SEED:
        raise ConflictError(
            f"only {positives.shape[0]} seed members have purchase history; a lookalike needs "
            f"at least {MIN_MODEL_SEED}",
            seed_with_history=int(positives.shape[0]),
        )
    rng = np.random.default_rng(random_seed)
    shuffled = rng.permutation(positives)
    held = max(1, round(HOLDOUT_SHARE * shuffled.shape[0]))
    holdout, learn = shuffled[:held], shuffled[held:]
    draw = min(
        unlabelled.shape[0],
        max(MIN_UNLABELLED, UNLABELLED_PER_SEED * learn.shape[0]),
        MAX_TRAIN_ROWS - learn.shape[0],
    )
    sample = rng.choice(unlabelled, draw, replace=False)
    rows = np.concatenate([learn, sample])
    labels = np.concatenate([np.ones(learn.shape[0], np.int8), np.zeros(draw, np.int8)])
    classifier = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, early_stopping=True, random_state=random_seed
    )
    classifier.fit(frame.matrix[rows], labels)
    scores = np.asarray(classifier.predict_proba(frame.matrix)[:, 1], dtype=np.float64)
    c = float(scores[holdout].mean())
    similarity = np.minimum(scores / c, 1.0) if c > 0 else np.zeros_like(scores)

    base_ids, base_sim = frame.profile_ids[unlabelled], similarity[unlabelled]
    order = np.lexsort((base_ids, -base_sim))
    seed_size = int(seed_ids.shape[0])
    wanted = max(0, min(reach - seed_size, base_ids.shape[0]))
    ranked = base_sim[order]
    report = {
        "seed_profiles": seed_size,
        "scored_profiles": len(frame),
        "seed_with_history": int(positives.shape[0]),
        "holdout": int(held),
        "label_frequency": round(c, 5),
        "requested_reach": reach,
        "reach": seed_size + wanted,
        "curve": _curve(ranked, similarity[holdout], seed_size, sorted({*_grid(seed_size), reach})),
        "features": frame.names,
    }
    return Expansion(np.asarray(base_ids[order[:wanted]]), report)


def _grid(seed_size: int) -> list[int]:
    return [seed_size * (1 + m) for m in CURVE_MULTIPLES]


def _curve(
    ranked: np.ndarray, holdout: np.ndarray, seed_size: int, reaches: list[int]
) -> list[dict[str, Any]]:
    """Per total reach: how seed-like the added shoppers are, and the held-out seed found."""
    points = []
    for reach in reaches:
        added = min(max(0, reach - seed_size), ranked.shape[0])
        if added == 0:
            continue
        chosen = ranked[:added]
        cut = float(chosen[-1])
        points.append(
            {
                "reach": seed_size + added,
                "mean_similarity": round(float(chosen.mean()), 4),
                "min_similarity": round(cut, 4),
                "holdout_recall": round(float((holdout >= cut).mean()), 4),
            }
        )
        if added == ranked.shape[0]:
            break
    return points
