"""Audience sizes as a brand may see them: a minimum to publish or book, rounded
counts, and coarse size bands for browsing the catalog.

Every count a brand sees goes through :func:`round_count`: it is a multiple of
``round_to``, or the band ``"<1000"`` when it is below the minimum, so that
neither one shopper more or less nor the exact size of a small group ever shows.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum

from endcap.errors import ConflictError
from endcap.privacy.settings import MIN_AUDIENCE, ROUND_TO


class AudienceTooSmallError(ConflictError):
    """The audience has fewer profiles than the minimum to publish or book it.

    A 409, not a 422: the request itself is well formed and would succeed on
    the same audience with more members; it is the audience's current state
    (its membership) that blocks it, and a refresh may lift the block. The
    message names the minimum, which is public policy, and never the size.
    """

    problem_type = "audience-too-small"
    title = "Audience too small"


def ensure_minimum_size(reach: int, *, minimum: int = MIN_AUDIENCE) -> None:
    """Raise :class:`AudienceTooSmallError` when ``reach`` (the audience's largest channel
    reach: its members holding the consent that channel needs) is below ``minimum``.

    The message says reach, not size: an audience of 1,400 members may reach 900 on its
    best channel, and a retailer told "below 1000 profiles" would look for the wrong
    cause. The error carries the minimum only, so it is safe to show to a brand.
    """
    if reach < minimum:
        raise AudienceTooSmallError(
            f"the audience reaches fewer than the minimum of {minimum} profiles on every"
            " channel (counting the members with the consent each needs), so it cannot be"
            " published or booked",
            minimum=minimum,
        )


def round_half_up(n: int, to: int = ROUND_TO) -> int:
    """``n`` rounded to the nearest multiple of ``to``; halves go up (1050 -> 1100)."""
    if to < 1:
        raise ValueError(f"cannot round to {to}")
    steps, rest = divmod(n, to)
    return (steps + (2 * rest >= to)) * to


@dataclass(frozen=True, slots=True)
class RoundedCount:
    """A count safe to show a brand: ``value`` is None when only the band is known."""

    value: int | None
    label: str


def round_count(n: int, to: int = ROUND_TO, *, minimum: int = MIN_AUDIENCE) -> RoundedCount:
    """The brand-facing form of an exact count of ``n`` profiles.

    At or above ``minimum`` it is rounded half-up to a multiple of ``to``; below
    it every count gives the same ``RoundedCount(None, "<1000")``, so nothing
    tells 0 from 999. ``minimum`` must be a multiple of ``to``, which keeps a
    shown value at or above the minimum it passed.
    """
    if n < 0:
        raise ValueError(f"a count cannot be negative ({n})")
    if to < 1 or minimum % to:
        raise ValueError(f"minimum ({minimum}) must be a multiple of the rounding step ({to})")
    if n < minimum:
        return RoundedCount(None, f"<{minimum}")
    value = round_half_up(n, to)
    return RoundedCount(value, str(value))


class SizeBand(StrEnum):
    """Coarse audience sizes for filtering the catalog (ASCII values for query strings)."""

    THOUSANDS = "1k-10k"
    TENS_OF_THOUSANDS = "10k-100k"
    HUNDREDS_OF_THOUSANDS = "100k-1m"
    MILLIONS = "1m-plus"

    @property
    def bounds(self) -> tuple[int, int | None]:
        """Rounded sizes in the band: ``low <= size < high`` (no ``high`` for the top band)."""
        return _BOUNDS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


# The first band starts at 0 so that a retailer with a lower minimum still has
# every published audience in a band; at the default minimum it is 1k-10k.
_BOUNDS: dict[SizeBand, tuple[int, int | None]] = {
    SizeBand.THOUSANDS: (0, 10_000),
    SizeBand.TENS_OF_THOUSANDS: (10_000, 100_000),
    SizeBand.HUNDREDS_OF_THOUSANDS: (100_000, 1_000_000),
    SizeBand.MILLIONS: (1_000_000, None),
}
_LABELS: dict[SizeBand, str] = {
    SizeBand.THOUSANDS: "1k-10k",
    SizeBand.TENS_OF_THOUSANDS: "10k-100k",
    SizeBand.HUNDREDS_OF_THOUSANDS: "100k-1M",
    SizeBand.MILLIONS: "1M+",
}
_BANDS = tuple(SizeBand)
_UPPER_EDGES = tuple(high for _, high in _BOUNDS.values() if high is not None)


def size_band(n: int, to: int = ROUND_TO, *, minimum: int = MIN_AUDIENCE) -> SizeBand | None:
    """The band of an audience of ``n`` profiles, or None when it is below ``minimum``.

    The band is taken from the *rounded* size, never the exact one: a band edge
    then tells a brand nothing the shown size has not (an exact 9,960 shows as
    10000 and sits in "10k-100k", not in "1k-10k" next to a shown 10000).
    """
    shown = round_count(n, to, minimum=minimum).value
    if shown is None:
        return None
    return _BANDS[bisect_right(_UPPER_EDGES, shown)]


# Capacity shared by every brand is shown to brands in hundredths of a week's capacity,
# and never finer than CAPACITY_STEP_FLOOR impressions: a hundredth of a small week (under
# 200 a week it is 1) would show it exactly.
CAPACITY_STEPS = 100
CAPACITY_STEP_FLOOR = 10


def capacity_step(capacity: int, *, steps: int = CAPACITY_STEPS) -> int:
    """The step a brand sees a week of ``capacity`` in."""
    return max(CAPACITY_STEP_FLOOR, capacity // steps)


def coarse_left(left: int, capacity: int, *, steps: int = CAPACITY_STEPS) -> int:
    """What remains of a pool all brands book from, rounded *down* to its step
    (:func:`capacity_step`).

    Exact remainders would let one brand difference out another's booking (and
    with the rate card, its budget) by forecasting before and after it.
    """
    step = capacity_step(capacity, steps=steps)
    return max(0, left) // step * step


def brand_left(capacity: int, booked: int, own: int, *, steps: int = CAPACITY_STEPS) -> int:
    """What a brand is shown left of a week, and may still book of it: what the other
    brands leave, rounded down to the step (:func:`coarse_left`), less what this brand
    holds itself (``own``, exact: it knows its own bookings).

    Rounding the remainder with the brand's own bookings in would show it where the
    remainder crosses a step: booking x, forecasting and cancelling, for x from 1 to a
    step, finds the exact remainder, and with it the other brands' bookings.
    """
    others = capacity - (booked - own)
    return max(0, coarse_left(others, capacity, steps=steps) - own)
