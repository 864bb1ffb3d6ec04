"""The data period, shopping-time patterns and fast ISO-8601 formatting.

Times are whole seconds since the Unix epoch (UTC) in ``int64`` arrays. The
period is fixed (it ends on a fixed Monday), so the same arguments always give
the same timestamps whatever the day the generator runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from endcap.synthetic.arrays import FloatArray, IntArray, sample_cdf

DAY = 86_400
WEEK = 7 * DAY
PERIOD_END = datetime(2025, 12, 29, tzinfo=UTC)  # a Monday, 00:00 UTC
HISTORY_YEARS = 6  # customer records were created up to this long before the period
UTC_OFFSET = 3600  # shopping hours below are Swedish local time (CET, UTC+1)

# Monday .. Sunday, and hour-of-day 0 .. 23, for store visits and online orders.
_DOW_STORE = (0.13, 0.12, 0.13, 0.14, 0.18, 0.18, 0.12)
_DOW_ONLINE = (0.16, 0.14, 0.13, 0.13, 0.11, 0.13, 0.20)
_HOUR_STORE = (0, 0, 0, 0, 0, 0, 0, 1, 3, 4, 5, 6, 7, 6, 6, 7, 9, 10, 9, 6, 4, 2, 0, 0)
_HOUR_ONLINE = (1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 6, 6, 7, 9, 10, 9, 6, 3)


def _cdf(weights: tuple[float, ...]) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    out: FloatArray = np.cumsum(w) / w.sum()
    return out


@dataclass(frozen=True)
class Period:
    weeks: int
    start: int = field(init=False)
    end: int = field(init=False)  # exclusive

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise ValueError("weeks must be at least 1")
        end = int(PERIOD_END.timestamp())
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "start", end - self.weeks * WEEK)

    @property
    def history_start(self) -> int:
        return self.start - HISTORY_YEARS * 365 * DAY

    def week_of(self, t: IntArray) -> IntArray:
        w: IntArray = np.clip((t - self.start) // WEEK, 0, self.weeks - 1)
        return w


def visit_times(
    rng: np.random.Generator, lo: IntArray, hi: IntArray, online: np.ndarray
) -> IntArray:
    """A time in ``[lo, hi)`` per visit, with weekday and hour-of-day patterns.

    A uniform day in the window is moved (at most three days) to a weekday drawn
    from the channel's weekday mix and given an hour from its hour mix (hours
    are Swedish local time, written in UTC). Where that would leave the window
    the day is kept; where even that leaves it, the plain uniform time is kept.
    """
    n = int(lo.shape[0])
    span = np.maximum(hi - lo, 1)
    t = lo + (rng.random(n) * span).astype(np.int64)
    day = t // DAY
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    target = np.where(
        online,
        sample_cdf(_cdf(_DOW_ONLINE), rng.random(n)),
        sample_cdf(_cdf(_DOW_STORE), rng.random(n)),
    )
    shift = (target - dow + 3) % 7 - 3
    hour = np.where(
        online,
        sample_cdf(_cdf(_HOUR_ONLINE), rng.random(n)),
        sample_cdf(_cdf(_HOUR_STORE), rng.random(n)),
    )
    clock = hour * 3600 + rng.integers(0, 3600, n) - UTC_OFFSET
    moved = (day + shift) * DAY + clock
    same_day = day * DAY + clock
    out: IntArray = np.where(
        (moved >= lo) & (moved < hi),
        moved,
        np.where((same_day >= lo) & (same_day < hi), same_day, t),
    )
    return out


class IsoFormatter:
    """Formats epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ`` through lookup tables."""

    def __init__(self, first: int, last: int) -> None:
        self._day0 = first // DAY
        days = last // DAY - self._day0 + 1
        base = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=self._day0)
        self._days = pa.array(
            [(base + timedelta(days=i)).strftime("%Y-%m-%dT") for i in range(days)]
        )
        self._clock = pa.array(
            [f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)]
        )

    def format(self, t: IntArray) -> pa.Array:
        day = pc.take(self._days, pa.array(t // DAY - self._day0))
        clock = pc.take(self._clock, pa.array(t % DAY))
        out: pa.Array = pc.binary_join_element_wise(day, clock, "")
        return out
