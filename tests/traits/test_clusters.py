"""Stable value-cluster labels on known groups of shoppers (no database: the numbers).

Four well-separated groups in the six clustering features; a "refresh" redraws
them with a little noise. The groups' values are chosen so that ranking by value
(the rule labels followed before they were stored) would swap two of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from endcap.traits.clusters import (
    MAX_DRIFT,
    Clustering,
    KChoice,
    Previous,
    cluster,
    previous_from_labels,
)

CENTRES = np.array(
    [
        [6.0, 3.5, 4.0, 0.1, 0.1, 6.0],  # A: loyal big spenders
        [4.5, 2.5, 3.0, 0.8, 0.2, 4.5],  # B: online regulars
        [4.5, 2.5, 3.0, 0.1, 0.8, 4.5],  # C: promo hunters
        [2.0, 0.7, 2.5, 0.2, 0.2, 2.0],  # D: occasional
    ]
)
NEW_GROUP = np.array([3.0, 1.5, 1.0, 0.9, 0.9, 3.0])  # E: small online promo baskets
SIZE = 600


def _shop(
    seed: int, values: list[float], extra: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, their values and their group (0-3, 4 for E)."""
    rng = np.random.default_rng(seed)
    centres = CENTRES if not extra else np.vstack([CENTRES, NEW_GROUP])
    sizes = [SIZE] * len(CENTRES) + ([extra] if extra else [])
    group = np.repeat(np.arange(len(centres)), sizes)
    spread = np.array([0.3, 0.2, 0.2, 0.05, 0.05, 0.3])
    rows = centres[group] + rng.normal(0, 1, (len(group), 6)) * spread
    value = np.asarray([*values, 150.0][: len(centres)])[group] * rng.uniform(0.9, 1.1, len(group))
    return rows, value, group


def _previous(result: Clustering) -> Previous:
    labels = tuple(sorted(result.centroids))
    mean, scale = np.asarray(result.scaler_mean), np.asarray(result.scaler_scale)
    centroids = np.asarray([np.asarray(result.centroids[label]) * scale + mean for label in labels])
    return Previous(labels, centroids, result.silhouette, max(labels) + 1)


def _label_of(result: Clustering, group: np.ndarray) -> dict[int, int]:
    """Each group's most common label."""
    return {int(g): int(np.bincount(result.labels[group == g]).argmax()) for g in np.unique(group)}


def test_labels_follow_their_centroids_when_two_groups_swap_places_by_value() -> None:
    rows, value, group = _shop(1, [900.0, 300.0, 250.0, 40.0])
    first = cluster(rows, value, candidates=(4,))
    assert first.k_choice == KChoice.FIRST
    assert _label_of(first, group) == {0: 1, 1: 2, 2: 3, 3: 4}  # by value, highest first

    # Promo hunters now outspend the online regulars a little.
    rows2, value2, group2 = _shop(2, [900.0, 250.0, 300.0, 40.0])
    refreshed = cluster(rows2, value2, previous=_previous(first))

    assert refreshed.k == 4
    assert refreshed.k_choice == KChoice.KEPT
    assert _label_of(refreshed, group2) == {0: 1, 1: 2, 2: 3, 3: 4}
    assert refreshed.new_labels == ()
    assert refreshed.retired_labels == ()
    assert sorted(refreshed.drift) == [1, 2, 3, 4]
    assert all(d < 0.1 for d in refreshed.drift.values()), refreshed.drift
    # Ranking by value, as labels were given before, would have swapped B and C.
    assert _label_of(cluster(rows2, value2, candidates=(4,)), group2)[1] == 3


def test_a_new_group_gets_a_new_label_when_k_is_chosen_again_and_the_old_ones_stay() -> None:
    rows, value, _ = _shop(1, [900.0, 300.0, 250.0, 40.0])
    first = cluster(rows, value, candidates=(4,))
    rows2, value2, group2 = _shop(3, [900.0, 300.0, 250.0, 40.0], extra=SIZE)

    kept = cluster(rows2, value2, previous=_previous(first))
    grown = cluster(rows2, value2, previous=_previous(first), candidates=(3, 4, 5, 6))

    assert kept.k == 4  # not asked: k stays, the new group joins its nearest clusters
    assert grown.k == 5
    assert grown.k_choice == KChoice.ASKED
    assert grown.new_labels == (5,)
    assert grown.retired_labels == ()
    assert _label_of(grown, group2) == {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}
    old = group2 < 4
    assert np.mean(grown.labels[old] == np.array([1, 2, 3, 4])[group2[old]]) >= 0.99


def test_a_label_whose_group_is_gone_retires_and_is_never_issued_again() -> None:
    rows, value, group = _shop(1, [900.0, 300.0, 250.0, 40.0])
    first = cluster(rows, value, candidates=(4,))
    previous = _previous(first)
    # The occasional shoppers (label 4) are gone; a new group took their place.
    later, _, later_group = _shop(4, [900.0, 300.0, 250.0, 40.0], extra=SIZE)
    rows2 = np.vstack([rows[group < 3], later[later_group == 4]])
    value2 = np.concatenate([value[group < 3], np.full(SIZE, 150.0)])

    refreshed = cluster(rows2, value2, previous=previous, candidates=(4,))

    assert refreshed.retired_labels == (4,)
    assert refreshed.new_labels == (5,)
    assert 4 not in set(refreshed.labels.tolist())
    assert 5 not in refreshed.drift
    assert all(d <= MAX_DRIFT for d in refreshed.drift.values())


def test_k_is_chosen_again_when_the_silhouette_collapses() -> None:
    rows, value, _ = _shop(1, [900.0, 300.0, 250.0, 40.0])
    first = cluster(rows, value, candidates=(4,))
    shapeless = np.random.default_rng(5).normal(0, 1, (2000, 6)) + CENTRES.mean(axis=0)

    refreshed = cluster(shapeless, np.ones(2000), previous=_previous(first))

    assert refreshed.k_choice == KChoice.COLLAPSED
    assert sorted(refreshed.silhouettes) == [3, 4, 5, 6, 7, 8]


def test_labels_stored_on_profiles_stand_in_for_centroids_after_the_upgrade() -> None:
    rows, value, group = _shop(1, [900.0, 300.0, 250.0, 40.0])
    stored = np.array([3, 1, 4, 2])[group]  # labels an earlier version gave, any order
    previous = previous_from_labels(rows, stored, silhouette=0.5)
    assert previous is not None
    assert previous.next_label == 5

    refreshed = cluster(rows, value, previous=previous)

    assert np.mean(refreshed.labels == stored) == pytest.approx(1.0)
