"""API keys already looked up, kept in memory so that a request needs no look-up.

Safe only while every change to a key or partner reaches it: the cache serves
nothing until auth/key_changes.py listens for PostgreSQL's notifications of those
changes, empties itself on each, and goes dark (serves nothing, remembers nothing)
as soon as the notifications may have stopped: the listening connection dropped or
its last heartbeat is too old. A look-up that was under way when a change arrived
is not remembered (its answer may predate the change): :meth:`stamp` before the
look-up, :meth:`remember` with that stamp after it.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from endcap.auth import secrets
from endcap.auth.principal import Principal

Clock = Callable[[], float]


class KeyCache:
    def __init__(self, *, max_keys: int, fresh_for: float, clock: Clock = time.monotonic) -> None:
        """``fresh_for``: seconds after the last :meth:`confirm` during which it serves."""
        self._max_keys = max_keys
        self._fresh_for = fresh_for
        self._clock = clock
        self._keys: dict[str, tuple[str, Principal]] = {}  # lookup -> (digest, principal)
        self._generation = 0
        self._live = False
        self._confirmed_at = -float("inf")

    @property
    def serving(self) -> bool:
        return self._live and self._clock() - self._confirmed_at <= self._fresh_for

    def find(self, presented: str, prefix: str) -> Principal | None:
        """The principal behind ``presented`` if it is remembered and the cache is fresh."""
        if not self._keys or not self.serving:
            return None
        lookup = secrets.split_lookup(presented, prefix)
        found = self._keys.get(lookup) if lookup else None
        if found is None or not hmac.compare_digest(found[0], secrets.digest(presented)):
            return None
        return found[1]

    def stamp(self) -> int | None:
        """Taken before a look-up; None while the cache is dark (nothing will be kept)."""
        return self._generation if self.serving else None

    def remember(self, stamp: int | None, presented: str, prefix: str, who: Principal) -> None:
        """Keep a key a look-up found valid, unless anything changed since ``stamp``."""
        if stamp is None or stamp != self._generation or not self.serving:
            return
        lookup = secrets.split_lookup(presented, prefix)
        if lookup is None:
            return
        if len(self._keys) >= self._max_keys:
            self._keys.clear()  # rare (more live keys than the cap): start over
        self._keys[lookup] = (secrets.digest(presented), who)

    def changed(self) -> None:
        """A key or partner changed: forget everything, and every look-up under way."""
        self._keys.clear()
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
