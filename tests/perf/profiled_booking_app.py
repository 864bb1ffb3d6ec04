"""Endcap's app for ``tests.perf.profile_booking``: cProfile and a count of PostgreSQL round
trips, switched on by SIGUSR1 and written out by SIGUSR2.

Round trips are counted where asyncpg makes them: each simple query (BEGIN, COMMIT,
ROLLBACK), each prepared statement run (by its SQL), and each other execution (the
pool's ping, executemany). Run under uvicorn as the benchmark runs Endcap::

    python -m uvicorn tests.perf.profiled_booking_app:create_profiled_app --factory
"""

from __future__ import annotations

import collections
import cProfile
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg.connection
import asyncpg.prepared_stmt
from litestar import Litestar

from endcap.app import create_app

OUT_ENV = "ENDCAP_PROFILE_OUT"  # cProfile stats go here, the counts to <this>.json

_counts: collections.Counter[str] = collections.Counter()
_state: dict[str, Any] = {"on": False, "profile": None}


def _counting(
    method: Callable[..., Awaitable[Any]], label: Callable[[Any, tuple[Any, ...]], str | None]
) -> Callable[..., Awaitable[Any]]:
    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state["on"] and (name := label(self, args)) is not None:
            _counts[name] += 1
        return await method(self, *args, **kwargs)

    return counted


def _instrument() -> None:
    conn, stmt = asyncpg.connection.Connection, asyncpg.prepared_stmt.PreparedStatement
    # With no arguments Connection.execute is one simple query; with some it goes on to
    # _do_execute, which counts it.
    conn.execute = _counting(  # type: ignore[method-assign]
        conn.execute, lambda _, a: "simple " + a[0].split()[0].upper() if len(a) == 1 else None
    )
    conn._do_execute = _counting(conn._do_execute, lambda *_: "other (ping, executemany)")  # type: ignore[method-assign]
    name = "_PreparedStatement__bind_execute"
    setattr(
        stmt,
        name,
        _counting(getattr(stmt, name), lambda s, _: "run " + " ".join(s._query.split())[:100]),
    )


def _start(*_: Any) -> None:
    _counts.clear()
    profile = cProfile.Profile()
    _state.update(on=True, profile=profile)
    profile.enable()


def _stop(*_: Any) -> None:
    profile: cProfile.Profile | None = _state["profile"]
    _state["on"] = False
    if profile is None:
        return
    profile.disable()
    out = Path(os.environ[OUT_ENV])
    profile.dump_stats(out)
    out.with_suffix(".json").write_text(json.dumps(_counts))


def create_profiled_app() -> Litestar:
    _instrument()
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    return create_app()
