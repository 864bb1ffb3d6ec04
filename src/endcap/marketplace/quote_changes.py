"""Following PostgreSQL's notifications of changed audiences and rates, for the quote cache.

Triggers on ``audiences``, ``audience_versions`` and ``channel_settings`` (migration
0022) send a NOTIFY on :data:`CHANNEL` from the transaction that changes any of their
rows (a publication, a new version, counts recomputed after an erasure, a new price or
capacity, SQL by hand): PostgreSQL delivers it when that transaction commits, and every
process empties its quote cache (quote_cache.py). The process's change feed
(db/change_feed.py) listens and beats; the cache serves only while all three triggers
are there and enabled, and for three heartbeats after the last one answered.
"""

from __future__ import annotations

from litestar.datastructures import State

from endcap.config import Settings
from endcap.db.change_feed import Followed
from endcap.marketplace.quote_cache import QuoteCache

CHANNEL = "endcap_quote_changes"
TRIGGERS = (
    ("audiences", "audiences_notify_change"),
    ("audience_versions", "audience_versions_notify_change"),
    ("channel_settings", "channel_settings_notify_change"),
)
STATE_QUOTE_CACHE = "quote_cache"  # the process's QuoteCache in the app's state, or None


def followed_quotes(settings: Settings) -> Followed | None:
    """The process's quote cache and what keeps it true; None when quotes are not cached
    (turned off, or SQLite, where another process could not tell this one of a change)."""
    if not settings.marketplace.quote_cache or settings.database.is_sqlite:
        return None
    cache = QuoteCache(
        max_audiences=settings.marketplace.quote_cache_max_audiences,
        fresh_for=settings.auth.key_cache_fresh_for,  # the change feed's one heartbeat
    )
    return Followed("Audiences and rates", cache, CHANNEL, TRIGGERS)


def quote_cache_of(state: State) -> QuoteCache | None:
    found: QuoteCache | None = state.get(STATE_QUOTE_CACHE)
    return found
