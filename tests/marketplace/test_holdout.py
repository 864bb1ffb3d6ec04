"""The holdout split is a keyed hash: the share asked for, uniform (chi-square), the same
every time for one salt, and unrelated between two campaigns."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from endcap.marketplace.holdout import HoldoutSplit, new_salt, position

PROFILES = range(1, 100_001)
# Fixed keys, so the statistical checks are the same every run (a fresh salt would fail
# about one run in a thousand by chance). new_salt() is checked for what it promises below.
SALTS = ("0f" * 16, "a5" * 16, "3c" * 16, "e1" * 16)


def test_every_salt_is_new_and_sixteen_random_bytes() -> None:
    salts = {new_salt() for _ in range(1000)}
    assert len(salts) == 1000
    assert all(len(bytes.fromhex(s)) == 16 for s in salts)


def test_the_split_has_the_share_asked_for() -> None:
    split = HoldoutSplit(SALTS[0], Decimal("0.10"))
    treated, held = split.count(PROFILES)
    # Binomial(100k, 0.1) has a standard deviation of about 95: 5 of them either way.
    assert treated + held == 100_000
    assert abs(held - 10_000) < 5 * 95
    observed = [treated, held]
    assert chisquare(observed, f_exp=[90_000, 10_000]).pvalue > 0.001


def test_positions_are_uniform_in_twenty_bins() -> None:
    salt = SALTS[1]
    counts = np.bincount([int(position(salt, p) * 20) for p in PROFILES], minlength=20)
    assert chisquare(counts).pvalue > 0.001
    assert counts.min() > 4_500
    assert counts.max() < 5_500


def test_two_campaigns_split_independently() -> None:
    first, second = (
        HoldoutSplit(new_salt(), Decimal("0.5")),
        HoldoutSplit(new_salt(), Decimal("0.5")),
    )
    both = np.array([[first.in_holdout(p), second.in_holdout(p)] for p in range(1, 40_001)])
    table = np.array(
        [
            [np.sum(~both[:, 0] & ~both[:, 1]), np.sum(~both[:, 0] & both[:, 1])],
            [np.sum(both[:, 0] & ~both[:, 1]), np.sum(both[:, 0] & both[:, 1])],
        ]
    ).ravel()
    # Each cell near a quarter: being held out of one campaign says nothing about the other.
    assert chisquare(table).pvalue > 0.001


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=2**62), max_size=200, unique=True))
def test_the_same_salt_always_splits_the_same_way(ids: list[int]) -> None:
    split = HoldoutSplit("00" * 16, Decimal("0.25"))
    again = HoldoutSplit("00" * 16, Decimal("0.25"))
    assert list(split.treatment(ids)) == list(again.treatment(ids))
    assert set(split.treatment(ids)) | {p for p in ids if split.in_holdout(p)} == set(ids)
