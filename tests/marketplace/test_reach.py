"""The union reach a brand sees is built from shown numbers only: A + B - overlap for two
audiences, an overlap hidden below the minimum counts as none, and for more audiences an
upper estimate that is exact for nested and disjoint ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from endcap.marketplace.reach import union_reach


def pair(i: int, j: int) -> frozenset[int]:
    return frozenset((i, j))


def test_two_audiences_are_a_plus_b_minus_their_overlap() -> None:
    assert union_reach([1200, 900], {pair(0, 1): 500}) == 1600


def test_an_overlap_not_shown_counts_as_none() -> None:
    # Below the minimum the catalog shows no overlap: the union is then the sum, exactly
    # what two disjoint audiences would give, so the forecast tells the brand nothing more.
    assert union_reach([1200, 900], {}) == 2100
    assert union_reach([1200, 900], {pair(0, 1): 0}) == 2100


def test_one_audience_is_its_own_reach() -> None:
    assert union_reach([700], {}) == 700


def test_nested_audiences_reach_the_largest() -> None:
    # 3000 holds 2000 holds 1000.
    overlaps = {pair(0, 1): 1000, pair(0, 2): 1000, pair(1, 2): 2000}
    assert union_reach([1000, 2000, 3000], overlaps) == 3000


def test_three_overlapping_audiences_are_estimated_from_above() -> None:
    # Largest first (3000), then 2000 adds 2000 - 800, then 1500 adds 1500 - max(600, 400).
    overlaps = {pair(0, 1): 800, pair(0, 2): 600, pair(1, 2): 400}
    assert union_reach([3000, 2000, 1500], overlaps) == 3000 + 1200 + 900


@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=6).flatmap(
        lambda steps: st.tuples(
            st.just([100 * s for s in steps]),
            st.dictionaries(
                st.sampled_from(
                    [pair(i, j) for i in range(len(steps)) for j in range(i + 1, len(steps))]
                    or [pair(0, 1)]
                ),
                st.integers(0, 50).map(lambda s: 100 * s),
            ),
        )
    )
)
def test_the_union_lies_between_the_largest_and_the_sum(
    shown: tuple[list[int], dict[frozenset[int], int]],
) -> None:
    reach, overlaps = shown
    union = union_reach(reach, overlaps)
    assert max(reach) <= union <= sum(reach)
    assert union % 100 == 0
