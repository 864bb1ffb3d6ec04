"""The aggregation threshold for brand-facing report tables, with complementary suppression.

A row resting on fewer than ``k`` distinct profiles is suppressed (*primary*
suppression). When the table also shows its total, the hidden rows' sum is
``total - sum(released rows)``: one hidden row would be given away by that
subtraction, and two tiny ones would still give away a tiny group. So, while a
total is shown, more rows are hidden, smallest first, until the hidden rows
together rest on at least ``k`` profiles, which for rows that add up to the
total always means two rows or more (*complementary* suppression). Hiding rows
is always enough once the total itself holds ``k`` profiles, so the total,
usually the number a brand came for, is hidden only when it is below the
threshold itself.

The rows must not overlap (each profile in at most one row: the usual
breakdown by region, age band or new-to-brand). Then every group whose count
can be computed from what is released, by adding and subtracting released rows
and the total, rests on ``k`` profiles or more. If the rows do not cover the
total (an "other" row left out), the uncovered rest is one more group the
subtraction yields, and it is protected like a hidden row. Overlapping rows
with a total (reach per channel beside total reach) are refused: there
"total minus the e-mail row" is a group of its own that no row check sees, so
release such a total on its own.

This runs first, on exact values; rounding or noise is applied afterwards to
what it releases. Both reasons should be rendered alike to a brand ("hidden to
protect shoppers' privacy"): telling which hidden row is the small one would
narrow it down again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from endcap.privacy.settings import K_THRESHOLD

Metric = int | float | Decimal


class Suppression(StrEnum):
    # The row itself rests on fewer than k distinct profiles.
    BELOW_THRESHOLD = "below_threshold"
    # The row is large enough, but showing it would let the total give a smaller group away.
    COMPLEMENTARY = "complementary"


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One row of a report table, or its total: the values are exact at this point."""

    label: str
    distinct_profiles: int
    metrics: Mapping[str, Metric] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SuppressedRow:
    """What is left of a hidden row: its label and why. No value leaves this module."""

    label: str
    reason: Suppression


@dataclass(frozen=True, slots=True)
class ThresholdedTable:
    rows: tuple[ReportRow | SuppressedRow, ...]
    """Every input row in input order, hidden ones replaced by a :class:`SuppressedRow`."""
    total: ReportRow | SuppressedRow | None
    """None when no total was given."""

    @property
    def released(self) -> tuple[ReportRow, ...]:
        return tuple(row for row in self.rows if isinstance(row, ReportRow))

    @property
    def suppressed(self) -> dict[str, Suppression]:
        """Label -> reason for every hidden row (the total is in :attr:`total_suppressed`)."""
        return {row.label: row.reason for row in self.rows if isinstance(row, SuppressedRow)}

    @property
    def total_suppressed(self) -> Suppression | None:
        return self.total.reason if isinstance(self.total, SuppressedRow) else None


def apply_threshold(
    rows: Sequence[ReportRow], *, total: ReportRow | None = None, k: int = K_THRESHOLD
) -> ThresholdedTable:
    """Hide every row (and the total) that would show, or let a brand derive, a group
    of fewer than ``k`` distinct profiles.

    Complementary suppression takes the smallest released rows first (ties in
    input order), which hides the least. Raises ValueError for duplicate labels,
    negative counts, or rows that hold more profiles than the total (they overlap).
    """
    _check(rows, total, k)
    hidden: dict[int, Suppression] = {
        i: Suppression.BELOW_THRESHOLD for i, row in enumerate(rows) if row.distinct_profiles < k
    }
    shown_total: ReportRow | SuppressedRow | None = total
    if total is not None and total.distinct_profiles < k:
        shown_total = SuppressedRow(total.label, Suppression.BELOW_THRESHOLD)
    elif total is not None:
        _hide_complements(rows, total, hidden, k)
    shown_rows = tuple(
        SuppressedRow(row.label, hidden[i]) if i in hidden else row for i, row in enumerate(rows)
    )
    return ThresholdedTable(shown_rows, shown_total)


def _hide_complements(
    rows: Sequence[ReportRow], total: ReportRow, hidden: dict[int, Suppression], k: int
) -> None:
    """Hide released rows, smallest first, until ``total - released`` holds ``k`` profiles.

    That difference is the hidden rows plus whoever no row covers (an "other"
    left out of the table), so a small uncovered rest is protected as well.
    Updates ``hidden`` in place. With every row hidden the difference is the
    total, which the caller has checked holds ``k``.
    """
    uncovered = total.distinct_profiles - sum(row.distinct_profiles for row in rows)
    if not hidden and not uncovered:
        return
    # Even a hidden row of zero profiles needs company: that "nobody" is a finding too.
    hidden_profiles = uncovered + sum(rows[i].distinct_profiles for i in hidden)
    candidates = sorted(
        (i for i in range(len(rows)) if i not in hidden),
        key=lambda i: (rows[i].distinct_profiles, i),
    )
    for i in candidates:
        if hidden_profiles >= k:
            break
        hidden[i] = Suppression.COMPLEMENTARY
        hidden_profiles += rows[i].distinct_profiles


def _check(rows: Sequence[ReportRow], total: ReportRow | None, k: int) -> None:
    if k < 1:
        raise ValueError(f"the threshold must be at least 1 profile (got {k})")
    labels = [row.label for row in rows]
    if len(set(labels)) != len(labels):
        raise ValueError("report rows need distinct labels")
    for row in (*rows, *((total,) if total is not None else ())):
        if row.distinct_profiles < 0:
            raise ValueError(f"row {row.label!r} has a negative profile count")
    if total is not None and sum(row.distinct_profiles for row in rows) > total.distinct_profiles:
        raise ValueError(
            "the rows hold more profiles than the total, so they overlap; "
            "thresholding with a total needs rows that split it"
        )
