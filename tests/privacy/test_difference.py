"""The difference check: a brand may not see two member sets that differ by only a few
shoppers, because every number about the pair would single those shoppers out."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from endcap.errors import ConflictError
from endcap.privacy.difference import (
    MemberSet,
    NearDuplicate,
    TooSimilarAudienceError,
    could_be_near_duplicates,
    could_be_near_shrunk,
    ensure_not_near_duplicate,
    member_set,
    near_duplicates,
    overlap_singles_out,
    symmetric_difference_size,
)


@pytest.fixture
def audience_a() -> MemberSet:
    rng = np.random.default_rng(20240501)
    return member_set(rng.choice(2_000_000, size=5_000, replace=False))


def without(members: MemberSet, count: int) -> MemberSet:
    return member_set(np.delete(members, np.arange(0, count * 37, 37)))


def test_the_classic_attack_audience_a_and_a_minus_one_shopper_is_refused(
    audience_a: MemberSet,
) -> None:
    a_minus_one = without(audience_a, 1)
    assert len(audience_a) == 5_000
    assert len(a_minus_one) == 4_999

    with pytest.raises(TooSimilarAudienceError) as refused:
        ensure_not_near_duplicate(a_minus_one, [("spring-snackers", audience_a)])

    error = refused.value
    assert isinstance(error, ConflictError)
    assert error.status_code == 409
    assert error.problem_type == "audience-too-similar"
    assert error.conflicts_with == "spring-snackers"
    assert error.extra == {"conflicts_with": "spring-snackers"}
    assert error.detail == (
        "this audience is too similar to audience spring-snackers, which brands have been shown"
        " (and keep what they saw, even if it was changed or deleted since): audiences shown"
        " to brands must differ by at least 50 profiles"
    )
    # Nothing in what the brand reads says by how many: not 1, not 4,999 or 5,000.
    assert not re.search(r"\b(1|4,?999|5,?000)\b", error.detail)


def test_a_minus_sixty_shoppers_is_far_enough_apart_to_publish(audience_a: MemberSet) -> None:
    smaller = without(audience_a, 60)

    ensure_not_near_duplicate(smaller, [("spring-snackers", audience_a)])  # raises if refused

    assert list(near_duplicates(smaller, [("spring-snackers", audience_a)])) == []


def test_the_same_members_again_are_the_same_release_and_allowed(audience_a: MemberSet) -> None:
    # Every aggregate over an identical set is one the brand already has.
    ensure_not_near_duplicate(audience_a.copy(), [("spring-snackers", audience_a)])
    assert list(near_duplicates(audience_a, [(1, audience_a)])) == []


def test_the_threshold_edge_49_apart_is_refused_and_50_apart_is_allowed(
    audience_a: MemberSet,
) -> None:
    assert list(near_duplicates(without(audience_a, 49), [(7, audience_a)])) == [
        NearDuplicate(7, 49)
    ]
    assert list(near_duplicates(without(audience_a, 50), [(7, audience_a)])) == []


def test_adding_a_few_outsiders_is_caught_as_well_as_removing(audience_a: MemberSet) -> None:
    outsiders = np.arange(3_000_000, 3_000_010, dtype=np.int64)
    a_plus_ten = member_set(np.concatenate([audience_a, outsiders]))
    with pytest.raises(TooSimilarAudienceError):
        ensure_not_near_duplicate(a_plus_ten, [(1, audience_a)])


def test_swapping_twenty_shoppers_keeps_the_size_but_is_still_refused(
    audience_a: MemberSet,
) -> None:
    swapped = member_set(
        np.concatenate([without(audience_a, 20), np.arange(3_000_000, 3_000_020, dtype=np.int64)])
    )
    assert len(swapped) == len(audience_a)
    assert symmetric_difference_size(swapped, audience_a) == 40
    with pytest.raises(TooSimilarAudienceError):
        ensure_not_near_duplicate(swapped, [(1, audience_a)])


def test_every_visible_audience_is_checked_and_the_first_conflict_is_named(
    audience_a: MemberSet,
) -> None:
    unrelated = member_set(np.arange(10_000, 15_000))
    a_minus_three = without(audience_a, 3)
    visible = [(11, unrelated), (12, audience_a), (13, a_minus_three)]
    release = without(audience_a, 5)
    assert list(near_duplicates(release, visible)) == [NearDuplicate(12, 5), NearDuplicate(13, 2)]
    with pytest.raises(TooSimilarAudienceError) as refused:
        ensure_not_near_duplicate(release, visible)
    assert refused.value.conflicts_with == 12


def test_the_threshold_is_the_retailers_choice(audience_a: MemberSet) -> None:
    a_minus_sixty = without(audience_a, 60)
    ensure_not_near_duplicate(a_minus_sixty, [(1, audience_a)], k=50)
    with pytest.raises(TooSimilarAudienceError, match="at least 100 profiles"):
        ensure_not_near_duplicate(a_minus_sixty, [(1, audience_a)], k=100)


def test_sizes_alone_rule_out_most_visible_audiences() -> None:
    assert could_be_near_duplicates(5_000, 4_951)
    assert not could_be_near_duplicates(5_000, 4_950)
    assert not could_be_near_duplicates(4_950, 5_000)
    assert could_be_near_duplicates(5_000, 5_000)


@given(
    released=st.integers(0, 10_000),
    lost=st.integers(0, 500),
    share=st.floats(0, 1),
    offset=st.integers(-200, 200),
    k=st.integers(1, 100),
)
def test_a_shrunk_release_is_kept_whenever_what_it_holds_now_may_be_near(
    released: int, lost: int, share: float, offset: int, k: int
) -> None:
    """Erasures took at most ``lost`` of a release's members: whatever it holds now, a set
    within k of that is never filtered out by the sizes."""
    now = released - min(released, round(lost * share))
    size = max(0, now + offset)
    if abs(size - now) < k:
        assert could_be_near_shrunk(size, released, lost, k=k)


def test_a_shrunk_release_is_left_out_only_beyond_what_erasures_can_explain() -> None:
    assert could_be_near_shrunk(4_949, 5_000, 0) is False  # as before: 51 apart
    assert could_be_near_shrunk(4_949, 5_000, 50)  # it may hold 4,950 now: 1 apart
    assert could_be_near_shrunk(4_901, 5_000, 50)
    assert could_be_near_shrunk(4_900, 5_000, 50) is False  # 50 from 4,950 at the nearest
    assert could_be_near_shrunk(5_049, 5_000, 50)
    assert could_be_near_shrunk(5_050, 5_000, 50) is False  # members are never added


def test_member_sets_must_be_sorted_unique_int64() -> None:
    assert member_set([5, 3, 3, 9]).tolist() == [3, 5, 9]
    assert member_set([1, 1, 2, 7, 7]).tolist() == [1, 2, 7]
    assert member_set([5, 3]).dtype == np.int64
    with pytest.raises(ValueError, match="sorted and unique"):
        symmetric_difference_size(np.array([3, 1], dtype=np.int64), member_set([1]))
    with pytest.raises(ValueError, match="sorted and unique"):
        symmetric_difference_size(np.array([1, 1], dtype=np.int64), member_set([1]))
    with pytest.raises(ValueError, match="int64"):
        symmetric_difference_size(np.array([1, 2], dtype=np.int32), member_set([1]))
    with pytest.raises(ValueError, match="sorted and unique"):
        list(near_duplicates(member_set([1, 2]), [(1, np.array([2, 1], dtype=np.int64))]))


def test_empty_sets() -> None:
    empty = member_set([])
    assert symmetric_difference_size(empty, empty) == 0
    assert symmetric_difference_size(empty, member_set(range(10))) == 10
    assert symmetric_difference_size(member_set(range(10)), empty) == 10


def test_a_million_member_audience_minus_one_is_refused_in_well_under_a_second() -> None:
    rng = np.random.default_rng(7)
    big = member_set(rng.integers(0, 50_000_000, size=1_010_000))[:1_000_000]
    big_minus_one = member_set(np.delete(big, 123_456))
    smaller = member_set(rng.integers(0, 50_000_000, size=900_000))  # ruled out by size alone
    same_size = member_set(rng.integers(0, 50_000_000, size=1_010_000))[:999_999]  # compared
    started = time.perf_counter()
    with pytest.raises(TooSimilarAudienceError) as refused:
        ensure_not_near_duplicate(
            big_minus_one, [("smaller", smaller), ("same-size", same_size), ("big", big)]
        )
    elapsed = time.perf_counter() - started
    assert refused.value.conflicts_with == "big"
    # About 50 ms on one core; the bound only catches an accidental quadratic path.
    assert elapsed < 1.0


id_sets = st.sets(st.integers(-(2**62), 2**62), max_size=60)


@given(id_sets, id_sets)
def test_symmetric_difference_size_agrees_with_python_sets(a: set[int], b: set[int]) -> None:
    assert symmetric_difference_size(member_set(list(a)), member_set(list(b))) == len(a ^ b)


@given(st.sets(st.integers(0, 400), min_size=1, max_size=200), st.integers(2, 60))
def test_a_release_is_refused_exactly_when_it_is_1_to_k_minus_1_apart(
    members: set[int], k: int
) -> None:
    base = member_set(sorted(members))
    for removed in range(min(len(base), k + 1) + 1):
        release = base[removed:]
        conflicts = list(near_duplicates(release, [("base", base)], k=k))
        assert bool(conflicts) == (0 < removed < k)


@given(
    st.sets(st.integers(0, 300), max_size=200),
    st.sets(st.integers(0, 300), max_size=200),
    st.integers(1, 60),
)
def test_a_shown_overlap_never_leaves_fewer_than_k_shoppers_on_one_side(
    a: set[int], b: set[int], k: int
) -> None:
    both = len(a & b)
    withheld = overlap_singles_out(len(a) - both, len(b) - both, k=k)
    for outside in (a - b, b - a):
        assert withheld or len(outside) == 0 or len(outside) >= k
    assert withheld == any(0 < len(outside) < k for outside in (a - b, b - a))
