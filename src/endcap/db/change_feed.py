"""One listening connection per process for every cache kept true by PostgreSQL NOTIFY.

Triggers send a notification on a cache's channel from the very transaction that
changes a table it draws on (the API, a CLI command, SQL by hand): PostgreSQL delivers
it when, and only if, that transaction commits, to every process listening, and the
cache forgets everything. The caches share this one connection (outside the pool) and
its heartbeat; each is a :class:`~endcap.db.notified_cache.NotifiedCache`.

A cache serves only while its notifications are known to arrive: from the first
heartbeat answered on the listening connection, for three heartbeats after the last
one answered. The heartbeat checks that it speaks to the backend that listens (behind
a connection pooler such as PgBouncer nothing is cached), that every channel is
listened to, and which triggers are there and enabled: a cache whose triggers are not
all there goes dark alone. A dropped connection makes every cache dark at once; they
come back after a new connection has listened and been answered. A heartbeat answered
means every change committed before it was sent has been notified: PostgreSQL sends
pending notifications before the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncEngine

from endcap.db.notified_cache import NotifiedCache

log = logging.getLogger(__name__)

APPLICATION_NAME = "endcap-changes"  # the listening connection's, as pg_stat_activity shows
# Which backend answers, what it listens to, and which of the triggers asked about are
# there and enabled (each as "table.trigger").
_HEARTBEAT = (
    "SELECT pg_backend_pid(), ARRAY(SELECT pg_listening_channels()),"
    " ARRAY(SELECT t.tgrelid::regclass::text || '.' || t.tgname FROM pg_trigger t"
    " WHERE t.tgenabled <> 'D' AND t.tgrelid::regclass::text || '.' || t.tgname = ANY($1))"
)
# Options SQLAlchemy's asyncpg adapter takes from a URL that asyncpg.connect does not.
_ADAPTER_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")


@dataclass(frozen=True, slots=True)
class Followed:
    """A cache, the channel its triggers notify on, and those triggers as (table, trigger)."""

    name: str  # what is cached, for the log
    cache: NotifiedCache
    channel: str
    triggers: tuple[tuple[str, str], ...]

    def trigger_names(self) -> list[str]:
        return [f"{table}.{trigger}" for table, trigger in self.triggers]


@asynccontextmanager
async def following(
    engine: AsyncEngine, followed: Sequence[Followed], *, every: float, connect_timeout: float
) -> AsyncGenerator[None]:
    """Keep the ``followed`` caches true while the block runs (nothing to do for none)."""
    if not followed:
        yield
        return
    feed = ChangeFeed(engine, followed, every, connect_timeout)
    task = asyncio.create_task(feed.run(), name="endcap-change-feed")
    try:
        yield
    finally:
        feed.go_dark()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class ChangeFeed:
    def __init__(
        self,
        engine: AsyncEngine,
        followed: Sequence[Followed],
        every: float,
        connect_timeout: float,
    ) -> None:
        self.followed, self.every, self.connect_timeout = list(followed), every, connect_timeout
        args, options = engine.dialect.create_connect_args(engine.url)
        self._args: list[Any] = list(args)
        self._options: dict[str, Any] = {k: v for k, v in options.items() if k not in _ADAPTER_ONLY}
        self._triggers = sorted({t for f in self.followed for t in f.trigger_names()})
        self._warned: set[str] = set()  # caches warned about, until they serve again

    def go_dark(self) -> None:
        for followed in self.followed:
            followed.cache.go_dark()

    async def run(self) -> None:
        """Listen, reconnecting for ever; every cache is dark whenever not listening."""
        while True:
            try:
                connection = await asyncpg.connect(
                    *self._args,
                    **self._options,
                    timeout=self.connect_timeout,
                    server_settings={"application_name": APPLICATION_NAME},
                )
            except (OSError, TimeoutError, asyncpg.PostgresError) as error:
                self._warn_all(f"cannot listen for changes ({error})")
            else:
                try:
                    await self._listen(connection)
                except Exception as error:  # noqa: BLE001  (whatever it was, listen anew)
                    self._warn_all(f"not cached until listening again ({error})")
                finally:
                    self.go_dark()
                    connection.terminate()
            await asyncio.sleep(self.every)

    def _warn(self, followed: Followed, why: str) -> None:
        """One warning per cache and outage."""
        if followed.name not in self._warned:
            log.warning("%s are not cached: %s", followed.name, why)
            self._warned.add(followed.name)

    def _warn_all(self, why: str) -> None:
        for followed in self.followed:
            self._warn(followed, why)

    async def _listen(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()

        def dropped(_connection: Any) -> None:
            self.go_dark()
            lost.set()

        connection.add_termination_listener(dropped)
        for followed in self.followed:
            cache = followed.cache
            await connection.add_listener(followed.channel, lambda *_, c=cache: c.changed())
        pid = connection.get_server_pid()
        while not lost.is_set():
            since = [f.cache.now() for f in self.followed]
            backend, channels, enabled = await asyncio.wait_for(
                connection.fetchrow(_HEARTBEAT, self._triggers), timeout=self.every * 2
            )
            if backend != pid or not {f.channel for f in self.followed} <= set(channels):
                raise asyncpg.InterfaceError(
                    "not listening on a direct connection to PostgreSQL (a pooler between?)"
                )
            for followed, sent in zip(self.followed, since, strict=True):
                missing = set(followed.trigger_names()) - set(enabled)
                if missing:
                    followed.cache.go_dark()
                    self._warn(followed, f"triggers {', '.join(sorted(missing))} missing or off")
                elif not lost.is_set():
                    followed.cache.confirm(sent)
                    self._warned.discard(followed.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=self.every)
