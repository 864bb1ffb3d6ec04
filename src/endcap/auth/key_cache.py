"""API keys already looked up, kept in memory so that a request needs no look-up.

Safe only while every change to a key or partner reaches it: the cache serves
nothing until auth/key_changes.py listens for PostgreSQL's notifications of those
changes, empties itself on each, and goes dark (serves nothing, remembers nothing)
as soon as the notifications may have stopped (db/notified_cache.py). A look-up that
was under way when a change arrived is not remembered (its answer may predate the
change): :meth:`stamp` before the look-up, :meth:`remember` with that stamp after it.
"""

from __future__ import annotations

import hmac
import time

from endcap.auth import secrets
from endcap.auth.principal import Principal
from endcap.db.notified_cache import Clock, NotifiedCache


class KeyCache(NotifiedCache):
    def __init__(self, *, max_keys: int, fresh_for: float, clock: Clock = time.monotonic) -> None:
        """``fresh_for``: seconds after the last :meth:`confirm` during which it serves."""
        super().__init__(fresh_for=fresh_for, clock=clock)
        self._max_keys = max_keys
        self._keys: dict[str, tuple[str, Principal]] = {}  # lookup -> (digest, principal)

    def find(self, presented: str, prefix: str) -> Principal | None:
        """The principal behind ``presented`` if it is remembered and the cache is fresh."""
        if not self._keys or not self.serving:
            return None
        lookup = secrets.split_lookup(presented, prefix)
        found = self._keys.get(lookup) if lookup else None
        if found is None or not hmac.compare_digest(found[0], secrets.digest(presented)):
            return None
        return found[1]

    def remember(self, stamp: int | None, presented: str, prefix: str, who: Principal) -> None:
        """Keep a key a look-up found valid, unless anything changed since ``stamp``."""
        if not self.unchanged_since(stamp):
            return
        lookup = secrets.split_lookup(presented, prefix)
        if lookup is None:
            return
        if len(self._keys) >= self._max_keys:
            self._keys.clear()  # rare (more live keys than the cap): start over
        self._keys[lookup] = (secrets.digest(presented), who)

    def forget(self) -> None:
        self._keys.clear()
