"""The aggregation threshold on brand-facing report tables: rows resting on fewer than k
profiles are hidden, and so are enough others that the total gives nothing small away."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endcap.privacy.thresholds import (
    ReportRow,
    SuppressedRow,
    Suppression,
    ThresholdedTable,
    apply_threshold,
)


def table(**profiles: int) -> list[ReportRow]:
    return [
        ReportRow(label, count, {"sales": Decimal(count) * Decimal("12.50")})
        for label, count in profiles.items()
    ]


def total_of(rows: list[ReportRow], uncovered: int = 0) -> ReportRow:
    return ReportRow("total", sum(row.distinct_profiles for row in rows) + uncovered)


def test_a_table_of_large_rows_is_released_whole() -> None:
    rows = table(north=120, south=300)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.rows == tuple(rows)
    assert result.total == ReportRow("total", 420)
    assert result.suppressed == {}
    assert result.total_suppressed is None


def test_a_row_of_12_shoppers_is_hidden_with_its_metrics() -> None:
    rows = table(north=120, south=300, east=12)
    result = apply_threshold(rows)  # no total shown: nothing to subtract from
    assert result.rows[2] == SuppressedRow("east", Suppression.BELOW_THRESHOLD)
    assert result.released == (rows[0], rows[1])
    assert result.released[0].metrics == {"sales": Decimal("1500.00")}


def test_with_the_total_shown_the_next_smallest_row_is_hidden_too() -> None:
    rows = table(north=120, south=300, east=12)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.suppressed == {
        "east": Suppression.BELOW_THRESHOLD,
        "north": Suppression.COMPLEMENTARY,
    }
    assert result.total == ReportRow("total", 432)
    # The brand can compute 432 - 300 = 132: north and east together, never east alone.
    assert result.total.distinct_profiles - sum(r.distinct_profiles for r in result.released) == 132


def test_two_small_rows_that_together_are_still_small_take_a_third_with_them() -> None:
    rows = table(a=10, b=20, c=80, d=500)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.suppressed == {
        "a": Suppression.BELOW_THRESHOLD,
        "b": Suppression.BELOW_THRESHOLD,
        "c": Suppression.COMPLEMENTARY,
    }
    assert [row.label for row in result.released] == ["d"]


def test_two_small_rows_that_together_pass_the_threshold_protect_each_other() -> None:
    rows = table(a=30, b=40, c=80)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.suppressed == {"a": Suppression.BELOW_THRESHOLD, "b": Suppression.BELOW_THRESHOLD}
    assert [row.label for row in result.released] == ["c"]


def test_a_row_of_nobody_still_needs_company() -> None:
    rows = table(a=0, b=70, c=900)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.suppressed == {"a": Suppression.BELOW_THRESHOLD, "b": Suppression.COMPLEMENTARY}


def test_when_every_row_is_small_the_rows_go_and_a_large_total_stays() -> None:
    rows = table(a=20, b=20, c=20)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.released == ()
    assert result.total == ReportRow("total", 60)


def test_a_total_below_the_threshold_is_hidden_with_every_row() -> None:
    rows = table(a=20, b=25)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.total == SuppressedRow("total", Suppression.BELOW_THRESHOLD)
    assert result.total_suppressed is Suppression.BELOW_THRESHOLD
    assert result.released == ()


def test_a_small_uncovered_rest_is_protected_like_a_hidden_row() -> None:
    # 7 shoppers belong to no row (an "unknown region" left out): total - rows would show them.
    rows = table(north=400, south=300, east=120)
    result = apply_threshold(rows, total=total_of(rows, uncovered=7))
    assert result.suppressed == {"east": Suppression.COMPLEMENTARY}
    assert result.total == ReportRow("total", 827)


def test_a_large_uncovered_rest_can_protect_a_single_hidden_row() -> None:
    rows = table(north=400, east=10)
    result = apply_threshold(rows, total=total_of(rows, uncovered=60))
    # 470 - 400 = 70: east and the 60 nobody can place, which is no one row's value.
    assert result.suppressed == {"east": Suppression.BELOW_THRESHOLD}


def test_ties_take_the_earlier_row() -> None:
    rows = table(a=5, b=100, c=100)
    result = apply_threshold(rows, total=total_of(rows))
    assert result.suppressed == {"a": Suppression.BELOW_THRESHOLD, "b": Suppression.COMPLEMENTARY}


def test_the_threshold_is_the_retailers_choice() -> None:
    rows = table(a=90, b=200, c=300)
    assert apply_threshold(rows, total=total_of(rows)).suppressed == {}
    assert apply_threshold(rows, total=total_of(rows), k=100).suppressed == {
        "a": Suppression.BELOW_THRESHOLD,
        "b": Suppression.COMPLEMENTARY,
    }


def test_bad_tables_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="distinct labels"):
        apply_threshold([ReportRow("a", 100), ReportRow("a", 200)])
    with pytest.raises(ValueError, match="negative"):
        apply_threshold([ReportRow("a", -1)])
    with pytest.raises(ValueError, match="overlap"):
        # Reach per channel beside total reach: 60 + 70 > 100.
        apply_threshold(
            [ReportRow("email", 60), ReportRow("onsite", 70)], total=ReportRow("total", 100)
        )
    with pytest.raises(ValueError, match="at least 1"):
        apply_threshold([], k=0)


# Properties over random tables whose rows split the total (plus, sometimes, an uncovered rest).

sizes = st.lists(st.integers(0, 300), max_size=8)
thresholds = st.integers(2, 120)


def rows_of(profiles: list[int]) -> list[ReportRow]:
    return [ReportRow(f"row{i}", count) for i, count in enumerate(profiles)]


def released_sum(result: ThresholdedTable) -> int:
    return sum(row.distinct_profiles for row in result.released)


@given(sizes, thresholds, st.booleans())
def test_no_released_row_is_below_the_threshold(profiles: list[int], k: int, shown: bool) -> None:
    rows = rows_of(profiles)
    result = apply_threshold(rows, total=total_of(rows) if shown else None, k=k)
    assert all(row.distinct_profiles >= k for row in result.released)
    for row in rows:
        if row.distinct_profiles < k:
            assert result.suppressed[row.label] is Suppression.BELOW_THRESHOLD


@given(sizes, thresholds)
def test_without_a_total_only_small_rows_are_hidden(profiles: list[int], k: int) -> None:
    result = apply_threshold(rows_of(profiles), k=k)
    assert sorted(result.suppressed) == sorted(f"row{i}" for i, n in enumerate(profiles) if n < k)


@given(sizes, thresholds)
def test_a_shown_total_never_gives_a_hidden_row_away(profiles: list[int], k: int) -> None:
    rows = rows_of(profiles)
    total = total_of(rows)
    result = apply_threshold(rows, total=total, k=k)
    if result.total_suppressed is not None or not result.suppressed:
        return
    hidden = [row for row in rows if row.label in result.suppressed]
    recovered = total.distinct_profiles - released_sum(result)
    # What the subtraction yields is shared by two hidden rows or more ...
    assert len(hidden) >= 2
    # ... it is the group of all of them, which itself passes the threshold ...
    assert recovered == sum(row.distinct_profiles for row in hidden) >= k
    # ... so it is never the exact value of one hidden row below the threshold.
    assert all(recovered != row.distinct_profiles for row in hidden if row.distinct_profiles < k)


@given(sizes, thresholds, st.integers(0, 200))
def test_every_group_the_release_lets_a_brand_compute_holds_k_profiles(
    profiles: list[int], k: int, uncovered: int
) -> None:
    rows = rows_of(profiles)
    total = total_of(rows, uncovered)
    result = apply_threshold(rows, total=total, k=k)
    if result.total_suppressed is not None:
        # Without a total, the released rows (each >= k) are all there is to add up.
        assert total.distinct_profiles < k
        return
    # With rows that split the total, any sum and difference of released cells is a union
    # of released rows plus, when the total is involved, the rest: total - released.
    rest = total.distinct_profiles - released_sum(result)
    assert rest == 0 or rest >= k


@given(sizes, thresholds)
def test_complementary_suppression_hides_no_more_than_it_must(profiles: list[int], k: int) -> None:
    rows = rows_of(profiles)
    result = apply_threshold(rows, total=total_of(rows), k=k)
    extra = [row for row in rows if result.suppressed.get(row.label) is Suppression.COMPLEMENTARY]
    if not extra:
        return
    hidden_profiles = sum(r.distinct_profiles for r in rows if r.label in result.suppressed)
    # Releasing the last (largest) complement again would leave the hidden group below k.
    assert hidden_profiles - max(r.distinct_profiles for r in extra) < k
    # And each complement is no larger than any row left released.
    assert all(
        max(r.distinct_profiles for r in extra) <= row.distinct_profiles for row in result.released
    )


@given(sizes, thresholds)
def test_released_rows_keep_their_values_and_order(profiles: list[int], k: int) -> None:
    rows = rows_of(profiles)
    result = apply_threshold(rows, total=total_of(rows), k=k)
    assert [cell.label for cell in result.rows] == [row.label for row in rows]
    assert all(row in rows for row in result.released)
