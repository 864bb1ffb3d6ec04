"""The in-memory key cache's own rules: what it keeps, when it forgets, when it serves."""

from __future__ import annotations

import uuid

from endcap.auth import secrets
from endcap.auth.key_cache import KeyCache
from endcap.auth.principal import Principal
from endcap.auth.roles import Role

PREFIX = "ek"
WHO = Principal(key_id=uuid.uuid4(), role=Role.BRAND, partner_id=uuid.uuid4())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def live_cache(clock: Clock) -> KeyCache:
    cache = KeyCache(max_keys=3, fresh_for=3.0, clock=clock)
    cache.confirm(clock.now)
    return cache


def test_a_key_found_valid_is_served_only_with_its_whole_secret() -> None:
    clock = Clock()
    cache = live_cache(clock)
    key = secrets.new_key(PREFIX).plaintext
    cache.remember(cache.stamp(), key, PREFIX, WHO)
    assert cache.find(key, PREFIX) == WHO
    assert cache.find(key[:-1] + ("A" if key[-1] != "A" else "B"), PREFIX) is None


def test_a_change_during_a_look_up_keeps_its_answer_out() -> None:
    clock = Clock()
    cache = live_cache(clock)
    key = secrets.new_key(PREFIX).plaintext
    stamp = cache.stamp()
    cache.changed()  # notified while the look-up ran: its answer may predate the change
    cache.remember(stamp, key, PREFIX, WHO)
    assert cache.find(key, PREFIX) is None


def test_a_change_forgets_every_key() -> None:
    clock = Clock()
    cache = live_cache(clock)
    key = secrets.new_key(PREFIX).plaintext
    cache.remember(cache.stamp(), key, PREFIX, WHO)
    cache.changed()
    assert cache.find(key, PREFIX) is None


def test_nothing_is_kept_or_served_before_the_first_heartbeat_or_once_dark() -> None:
    clock = Clock()
    cache = KeyCache(max_keys=3, fresh_for=3.0, clock=clock)
    key = secrets.new_key(PREFIX).plaintext
    assert cache.stamp() is None
    cache.remember(None, key, PREFIX, WHO)
    assert cache.find(key, PREFIX) is None

    cache.confirm(clock.now)
    cache.remember(cache.stamp(), key, PREFIX, WHO)
    cache.go_dark()
    assert cache.find(key, PREFIX) is None
    cache.confirm(clock.now)  # listening again: what was kept before may have missed a change
    assert cache.find(key, PREFIX) is None


def test_an_old_heartbeat_stops_the_cache_serving() -> None:
    clock = Clock()
    cache = live_cache(clock)
    key = secrets.new_key(PREFIX).plaintext
    cache.remember(cache.stamp(), key, PREFIX, WHO)
    clock.now += 3.0
    assert cache.find(key, PREFIX) == WHO
    clock.now += 0.1  # the listening connection may be dead without a word
    assert cache.find(key, PREFIX) is None
    assert cache.stamp() is None


def test_it_keeps_at_most_max_keys() -> None:
    clock = Clock()
    cache = live_cache(clock)
    keys = [secrets.new_key(PREFIX).plaintext for _ in range(4)]
    for key in keys:
        cache.remember(cache.stamp(), key, PREFIX, WHO)
    assert [cache.find(k, PREFIX) is not None for k in keys] == [False, False, False, True]
