"""Audience sizes as a brand sees them: the minimum to publish or book, rounded counts
that never show an exact small number, and size bands for the catalog."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endcap.errors import ConflictError
from endcap.privacy.sizes import (
    CAPACITY_STEP_FLOOR,
    CAPACITY_STEPS,
    AudienceTooSmallError,
    RoundedCount,
    SizeBand,
    capacity_step,
    coarse_left,
    ensure_minimum_size,
    round_count,
    round_half_up,
    size_band,
)

counts = st.integers(min_value=0, max_value=5_000_000)
# (step, minimum) pairs where the minimum is a whole number of steps, as the settings require.
policies = st.tuples(st.integers(1, 1000), st.integers(1, 20)).map(lambda p: (p[0], p[0] * p[1]))


def test_an_audience_of_999_cannot_be_published_and_the_refusal_hides_its_size() -> None:
    with pytest.raises(AudienceTooSmallError) as refused:
        ensure_minimum_size(999)
    error = refused.value
    assert isinstance(error, ConflictError)
    assert error.status_code == 409
    assert error.problem_type == "audience-too-small"
    assert error.detail == (
        "the audience reaches fewer than the minimum of 1000 profiles on every channel"
        " (counting the members with the consent each needs), so it cannot be published or"
        " booked"
    )
    assert "999" not in error.detail
    assert error.extra == {"minimum": 1000}


def test_an_audience_of_exactly_the_minimum_can_be_published() -> None:
    for size in (1000, 2_500_000):
        ensure_minimum_size(size)  # raises if refused
    with pytest.raises(AudienceTooSmallError):
        ensure_minimum_size(999)


def test_the_minimum_is_the_retailers_choice() -> None:
    ensure_minimum_size(600, minimum=500)
    with pytest.raises(AudienceTooSmallError, match="minimum of 5000 profiles"):
        ensure_minimum_size(4_999, minimum=5000)


@pytest.mark.parametrize(
    ("n", "shown"),
    [(1000, 1000), (1049, 1000), (1050, 1100), (1051, 1100), (1149, 1100), (123_456, 123_500)],
)
def test_counts_round_to_the_nearest_hundred_with_halves_going_up(n: int, shown: int) -> None:
    assert round_count(n) == RoundedCount(shown, str(shown))


@pytest.mark.parametrize("n", [0, 1, 49, 950, 999])
def test_counts_below_the_minimum_all_read_as_the_same_band(n: int) -> None:
    assert round_count(n) == RoundedCount(None, "<1000")


def test_rounding_to_another_step_and_minimum() -> None:
    assert round_count(12_345, to=1000, minimum=5000) == RoundedCount(12_000, "12000")
    assert round_count(12_500, to=1000, minimum=5000) == RoundedCount(13_000, "13000")
    assert round_count(4_999, to=1000, minimum=5000) == RoundedCount(None, "<5000")


def test_a_minimum_that_is_not_a_whole_number_of_steps_is_refused() -> None:
    # 1030 would round to 1000 and show a size below the minimum it passed.
    with pytest.raises(ValueError, match="multiple of the rounding step"):
        round_count(1030, to=100, minimum=1030)


def test_negative_counts_and_steps_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="negative"):
        round_count(-1)
    with pytest.raises(ValueError, match="cannot round to 0"):
        round_half_up(10, 0)
    with pytest.raises(ValueError, match="rounding step"):
        round_count(1000, to=0)


def test_half_up_rounding_of_plain_numbers() -> None:
    assert round_half_up(0) == 0
    assert round_half_up(49) == 0
    assert round_half_up(50) == 100
    assert round_half_up(7, 5) == 5
    assert round_half_up(8, 5) == 10  # 7.5 and up go up with an odd step
    assert round_half_up(-149) == -100
    assert round_half_up(-150) == -100  # half up means towards +infinity


@given(counts, counts, policies)
def test_rounding_is_monotone(a: int, b: int, policy: tuple[int, int]) -> None:
    to, minimum = policy
    low, high = sorted((a, b))
    shown_low = round_count(low, to, minimum=minimum).value
    shown_high = round_count(high, to, minimum=minimum).value
    # "below the minimum" sorts under every shown value.
    assert (shown_low if shown_low is not None else -1) <= (
        shown_high if shown_high is not None else -1
    )


@given(counts, policies)
def test_shown_counts_are_multiples_of_the_step_near_the_truth_and_not_below_the_minimum(
    n: int, policy: tuple[int, int]
) -> None:
    to, minimum = policy
    shown = round_count(n, to, minimum=minimum)
    if n < minimum:
        assert shown == RoundedCount(None, f"<{minimum}")
        return
    assert shown.value is not None
    assert shown.value % to == 0
    assert abs(shown.value - n) * 2 <= to
    assert shown.value >= minimum
    assert shown.label == str(shown.value)


@given(st.integers(0, 999), st.integers(0, 999))
def test_nothing_tells_two_counts_below_the_minimum_apart(a: int, b: int) -> None:
    assert round_count(a) == round_count(b)
    assert size_band(a) is size_band(b) is None


@given(st.integers(1000, 5_000_000))
def test_one_shopper_more_moves_a_shown_count_by_one_step_or_not_at_all(n: int) -> None:
    before, after = round_count(n).value, round_count(n + 1).value
    assert before is not None
    assert after is not None
    assert after - before in {0, 100}


@pytest.mark.parametrize(
    ("n", "band"),
    [
        (1_000, SizeBand.THOUSANDS),
        (9_949, SizeBand.THOUSANDS),
        (9_950, SizeBand.TENS_OF_THOUSANDS),  # shown as 10000, so banded as 10k-100k
        (99_949, SizeBand.TENS_OF_THOUSANDS),
        (99_950, SizeBand.HUNDREDS_OF_THOUSANDS),
        (999_949, SizeBand.HUNDREDS_OF_THOUSANDS),
        (999_950, SizeBand.MILLIONS),
        (40_000_000, SizeBand.MILLIONS),
    ],
)
def test_size_bands_follow_the_shown_size(n: int, band: SizeBand) -> None:
    assert size_band(n) is band


def test_size_bands_have_ascii_values_for_query_strings_and_readable_labels() -> None:
    assert [(band.value, band.label, band.bounds) for band in SizeBand] == [
        ("1k-10k", "1k-10k", (0, 10_000)),
        ("10k-100k", "10k-100k", (10_000, 100_000)),
        ("100k-1m", "100k-1M", (100_000, 1_000_000)),
        ("1m-plus", "1M+", (1_000_000, None)),
    ]


def test_a_retailer_with_a_lower_minimum_still_bands_every_published_audience() -> None:
    assert size_band(600, minimum=500) is SizeBand.THOUSANDS
    assert size_band(499, minimum=500) is None


@given(counts)
def test_the_band_is_a_function_of_the_shown_count_and_contains_it(n: int) -> None:
    shown = round_count(n).value
    band = size_band(n)
    if shown is None:
        assert band is None
        return
    assert band is not None
    low, high = band.bounds
    assert low <= shown
    assert high is None or shown < high


@given(capacity=st.integers(0, 10**9), data=st.data())
def test_capacity_left_is_shown_in_steps_never_finer_than_the_floor(
    capacity: int, data: st.DataObject
) -> None:
    booked = data.draw(st.integers(0, capacity + 1000))
    step = capacity_step(capacity)
    shown = coarse_left(capacity - booked, capacity)
    assert step >= CAPACITY_STEP_FLOOR
    assert step >= capacity // CAPACITY_STEPS
    assert shown % step == 0
    assert 0 <= shown <= max(0, capacity - booked) < shown + step


def test_a_small_week_is_not_shown_exactly() -> None:
    # 150 a week less a booking of 17: a step of 1 (a hundredth) would show 133.
    assert coarse_left(150 - 17, 150) == 130
    assert coarse_left(150 - 23, 150) == 120
