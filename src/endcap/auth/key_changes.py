"""Following PostgreSQL's notifications of changed API keys and partners, for the key cache.

Triggers on ``api_keys`` and ``partners`` (migration 0020) send a NOTIFY on
:data:`CHANNEL` in the transaction that changes a row (a revocation, a new role, a
partner changed or removed, anything): PostgreSQL delivers it when that transaction
commits, to every server process listening, and each empties its cache
(key_cache.py). Each process listens on a connection of its own, outside the pool.

The cache serves only while the notifications are known to arrive: from the first
heartbeat answered on the listening connection (which also checks that the triggers
are there and enabled, and that it speaks to the backend that listens: behind a
connection pooler such as PgBouncer nothing is cached), for three heartbeats after
the last one answered. A dropped
connection makes it dark at once; it comes back after a new connection has listened
and been answered. A heartbeat answered means every change committed before it was
sent has been notified: PostgreSQL sends pending notifications before the answer. So a
change is known everywhere :func:`until_no_process_accepts` after its commit, however
slow a notification; a revocation waits that long before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncEngine

from endcap.auth.key_cache import KeyCache
from endcap.config import Settings

log = logging.getLogger(__name__)

CHANNEL = "endcap_key_changes"
# Created by migration 0020 on api_keys and partners; without both, nothing is cached.
TRIGGERS = ("api_keys_notify_change", "partners_notify_change")
# The heartbeat: still the backend that listens (behind a pooler such as PgBouncer the
# answer may come from another, or notifications may go astray, so nothing is cached
# there), still listening, and both triggers there and enabled.
_HEARTBEAT = (
    "SELECT pg_backend_pid() = $1 AND $2 IN (SELECT pg_listening_channels())"
    " AND (SELECT count(*) FROM pg_trigger WHERE tgname = ANY($3::text[]) AND tgenabled <> 'D'"
    " AND tgrelid IN ('api_keys'::regclass, 'partners'::regclass)) = cardinality($3::text[])"
)
# Options SQLAlchemy's asyncpg adapter takes from a URL that asyncpg.connect does not.
_ADAPTER_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")


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


@asynccontextmanager
async def following_key_changes(
    settings: Settings, engine: AsyncEngine
) -> AsyncGenerator[KeyCache | None]:
    """The process's key cache, kept true while the block runs; None when keys are not
    cached (turned off, or SQLite, where another process such as ``endcap keys revoke``
    could not tell this one)."""
    if not caches_keys(settings):
        yield None
        return
    every = settings.auth.key_cache_heartbeat_seconds
    fresh_for = settings.auth.key_cache_fresh_for
    cache = KeyCache(max_keys=settings.auth.key_cache_max_keys, fresh_for=fresh_for)
    follower = KeyChangeFollower(cache, engine, every, settings.database.connect_timeout)
    task = asyncio.create_task(follower.run(), name="endcap-key-changes")
    try:
        yield cache
    finally:
        cache.go_dark()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class KeyChangeFollower:
    def __init__(
        self, cache: KeyCache, engine: AsyncEngine, every: float, connect_timeout: float
    ) -> None:
        self.cache, self.every, self.connect_timeout = cache, every, connect_timeout
        args, options = engine.dialect.create_connect_args(engine.url)
        self._args: list[Any] = list(args)
        self._confirmed = False  # the cache has served since the last warning
        self._options: dict[str, Any] = {k: v for k, v in options.items() if k not in _ADAPTER_ONLY}

    async def run(self) -> None:
        """Listen, reconnecting for ever; the cache is dark whenever not listening. One
        warning per outage (``warned`` is reset when the cache serves again)."""
        warned = False
        while True:
            if self._confirmed:
                warned, self._confirmed = False, False
            try:
                connection = await asyncpg.connect(
                    *self._args,
                    **self._options,
                    timeout=self.connect_timeout,
                    server_settings={"application_name": "endcap-key-changes"},
                )
            except (OSError, TimeoutError, asyncpg.PostgresError) as error:
                if not warned:
                    log.warning("API keys are not cached: cannot listen for changes (%s)", error)
                    warned = True
            else:
                try:
                    await self._listen(connection)
                except Exception as error:  # noqa: BLE001  (whatever it was, listen anew)
                    if not warned:
                        log.warning("API keys are not cached until listening again (%s)", error)
                        warned = True
                finally:
                    self.cache.go_dark()
                    connection.terminate()
            await asyncio.sleep(self.every)

    async def _listen(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()

        def dropped(_connection: Any) -> None:
            self.cache.go_dark()
            lost.set()

        connection.add_termination_listener(dropped)
        await connection.add_listener(CHANNEL, lambda *_: self.cache.changed())
        pid = connection.get_server_pid()
        while not lost.is_set():
            since = self.cache.now()
            healthy = await asyncio.wait_for(
                connection.fetchval(_HEARTBEAT, pid, CHANNEL, list(TRIGGERS)),
                timeout=self.every * 2,
            )
            if not healthy:
                self.cache.go_dark()
                raise asyncpg.InterfaceError(
                    "not listening on a direct connection to PostgreSQL, or the triggers "
                    f"{', '.join(TRIGGERS)} are missing or disabled (migration 0020)"
                )
            if not lost.is_set():
                self.cache.confirm(since)
                self._confirmed = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=self.every)
