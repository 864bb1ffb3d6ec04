"""What every cache kept true by PostgreSQL's notifications shares: when it may serve.

A cache serves only while the notifications of changes to what it holds are known to
arrive (db/change_feed.py confirms that with heartbeats): from the first heartbeat
answered, for ``fresh_for`` seconds after the last one was sent. It goes dark (serves
nothing, remembers nothing) as soon as they may have stopped, and forgets everything
when it comes back. A read that was under way when a change arrived is not remembered
(its answer may predate the change): take :meth:`stamp` before the read, and remember
its answer only if :meth:`unchanged_since` that stamp.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class NotifiedCache:
    def __init__(self, *, fresh_for: float, clock: Clock = time.monotonic) -> None:
        """``fresh_for``: seconds after the last :meth:`confirm` during which it serves."""
        self._fresh_for = fresh_for
        self._clock = clock
        self._generation = 0
        self._live = False
        self._confirmed_at = -float("inf")

    @property
    def serving(self) -> bool:
        return self._live and self._clock() - self._confirmed_at <= self._fresh_for

    def stamp(self) -> int | None:
        """Taken before a read; None while the cache is dark (nothing will be kept)."""
        return self._generation if self.serving else None

    def unchanged_since(self, stamp: int | None) -> bool:
        """Nothing changed since ``stamp`` and the cache serves: a read's answer may be kept."""
        return stamp is not None and stamp == self._generation and self.serving

    def forget(self) -> None:
        """Drop everything remembered (the subclass's own store)."""

    def changed(self) -> None:
        """Something it holds changed: forget everything, and every read under way."""
        self.forget()
        self._generation += 1

    def now(self) -> float:
        return self._clock()

    def confirm(self, since: float) -> None:
        """Every change committed before ``since`` (a :meth:`now`) has been notified: a
        heartbeat sent then has been answered after them. Serve (again)."""
        if not self._live:
            self.changed()  # whatever was remembered before may have missed a change
            self._live = True
        self._confirmed_at = max(self._confirmed_at, since)

    def go_dark(self) -> None:
        """The notifications may not arrive: serve and remember nothing until confirmed."""
        self._live = False
        self.changed()
