"""Following PostgreSQL's notifications of changed API keys and partners, for the key cache.

Triggers on ``api_keys`` and ``partners`` (migration 0020) send a NOTIFY on
:data:`CHANNEL` in the transaction that changes a row (a revocation, a new role, a
partner changed or removed, anything): PostgreSQL delivers it when that transaction
commits, to every server process listening, and each empties its cache
(key_cache.py). The process's change feed (db/change_feed.py) listens and beats.

The cache serves only while the notifications are known to arrive: for three
heartbeats after the last one answered, and only while both triggers are there and
enabled. A heartbeat answered means every change committed before it was sent has
been notified. So a change is known everywhere :func:`until_no_process_accepts` after
its commit, however slow a notification; a revocation waits that long before it answers.
"""

from __future__ import annotations

import asyncio

from endcap.auth.key_cache import KeyCache
from endcap.config import Settings
from endcap.db.change_feed import Followed

CHANNEL = "endcap_key_changes"
# Created by migration 0020; without both, nothing is cached.
TRIGGERS = (("api_keys", "api_keys_notify_change"), ("partners", "partners_notify_change"))


def caches_keys(settings: Settings) -> bool:
    return settings.auth.key_cache and not settings.database.is_sqlite


async def until_no_process_accepts(settings: Settings) -> None:
    """Wait, after a change to a key has committed, until no server process can still
    accept the key as it was. A notification usually gets there within milliseconds; this
    is the bound: a process serves a cached key only while its last heartbeat was sent
    at most ``key_cache_fresh_for`` seconds ago, and a heartbeat sent after the commit is
    answered only after the notification has arrived."""
    if caches_keys(settings):
        await asyncio.sleep(settings.auth.key_cache_fresh_for)


def followed_keys(settings: Settings) -> Followed | None:
    """The process's key cache and what keeps it true; None when keys are not cached
    (turned off, or SQLite, where another process such as ``endcap keys revoke`` could
    not tell this one)."""
    if not caches_keys(settings):
        return None
    cache = KeyCache(
        max_keys=settings.auth.key_cache_max_keys, fresh_for=settings.auth.key_cache_fresh_for
    )
    return Followed("API keys", cache, CHANNEL, TRIGGERS)
