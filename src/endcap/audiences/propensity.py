"""Propensity: who is likely to buy a target in the next N weeks.

Temporal split, so the model is judged the way it will be used (on a future it
has not seen)::

    |---- 52 weeks of features ----|-- N weeks: label --|
                              train cut-off
              |---- 52 weeks of features ----|-- N weeks: label --|
                                        check cut-off          newest purchase
                        |---- 52 weeks of features ----|  scored now
                                                  newest purchase

The classifier (scikit-learn's histogram gradient boosting: fast on a million
rows, no scaling needed for spend) is fitted on the train cut-off, and its AUC,
Brier score and calibration (observed buy rate per decile of predicted score)
are measured on the check cut-off, whose labels it never saw. That same model
then scores everyone at the newest purchase. The scores are probabilities of
buying within the horizon, so a ``min_score`` cut means what it says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score

from endcap.audiences.features import FeatureFrame
from endcap.audiences.specs import Selection
from endcap.errors import ConflictError

# Fewer buyers than this in a period and neither the fit nor the AUC means anything.
MIN_CLASS: Final = 20
# A bigger sample adds fitting time, not accuracy, for a few dozen features.
MAX_TRAIN_ROWS: Final = 300_000
CALIBRATION_BINS: Final = 10


@dataclass(frozen=True, slots=True)
class PropensityModel:
    classifier: HistGradientBoostingClassifier
    report: dict[str, Any]

    def score(self, frame: FeatureFrame) -> np.ndarray:
        if len(frame) == 0:
            return np.empty(0, np.float64)
        return np.asarray(self.classifier.predict_proba(frame.matrix)[:, 1], dtype=np.float64)


def fit_propensity(train: FeatureFrame, check: FeatureFrame, *, seed: int) -> PropensityModel:
    """Fit on ``train``, report on ``check`` (both labelled).

    Raises :class:`ConflictError` when a period has too few buyers or non-buyers to
    fit or judge a model.
    """
    y_train = _labels(train, "training")
    y_check = _labels(check, "checking")
    rng = np.random.default_rng(seed)
    rows = np.arange(len(train))
    if rows.shape[0] > MAX_TRAIN_ROWS:
        rows = np.sort(rng.choice(rows, MAX_TRAIN_ROWS, replace=False))
    classifier = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, early_stopping=True, random_state=seed
    )
    classifier.fit(train.matrix[rows], y_train[rows])
    predicted = np.asarray(classifier.predict_proba(check.matrix)[:, 1], dtype=np.float64)
    observed, mean_predicted = calibration_curve(
        y_check, predicted, n_bins=CALIBRATION_BINS, strategy="quantile"
    )
    report = {
        "auc": round(float(roc_auc_score(y_check, predicted)), 4),
        "brier": round(float(brier_score_loss(y_check, predicted)), 5),
        "base_rate": round(float(y_check.mean()), 5),
        "calibration": [
            {"mean_predicted": round(float(p), 5), "observed": round(float(o), 5)}
            for p, o in zip(mean_predicted, observed, strict=True)
        ],
        "training": {"profiles": int(rows.shape[0]), "buyers": int(y_train[rows].sum())},
        "checking": {"profiles": len(check), "buyers": int(y_check.sum())},
        "features": train.names,
    }
    return PropensityModel(classifier, report)


def select_top(ids: np.ndarray, scores: np.ndarray, selection: Selection) -> np.ndarray:
    """The chosen profiles, best first; ties go to the lower profile id (reproducible)."""
    order = np.lexsort((ids, -scores))
    if selection.top_share is not None:
        take = math.ceil(selection.top_share * ids.shape[0])
        return np.asarray(ids[order[:take]])
    cut = selection.min_score if selection.min_score is not None else 0.0
    return np.asarray(ids[order][scores[order] >= cut])


def _labels(frame: FeatureFrame, period: str) -> np.ndarray:
    if frame.bought_after is None:
        raise ValueError("a labelled frame is needed")
    buyers = int(frame.bought_after.sum())
    others = len(frame) - buyers
    if buyers < MIN_CLASS or others < MIN_CLASS:
        raise ConflictError(
            f"the {period} period has {buyers} buyers and {others} non-buyers of the target; "
            f"a propensity model needs at least {MIN_CLASS} of each (choose a broader target "
            "or a longer horizon)",
            period=period,
            buyers=buyers,
            non_buyers=others,
        )
    return np.asarray(frame.bought_after, dtype=np.int8)
