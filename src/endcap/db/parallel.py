"""Settings for one parallel batch statement (PostgreSQL): its memory budget, and a parallel plan.

``work_mem`` bounds each sort and hash of each process, not a statement: a parallel plan
whose leader and two workers each build a hash table (up to ``work_mem`` x
``hash_mem_multiplier``) and sort its output holds up to 3 x (2 + 1) = 9 x ``work_mem``
at once. At 100k profiles, with the batch ``work_mem`` of 256 MB, the spend roll-ups
peaked at 1,476 MiB of private memory in the backend and its workers (measured by
tests/perf/memory_peaks.py), and at 1M profiles, where every hash table fills, at 2.8 GiB.
:func:`statement_memory` sizes ``work_mem`` from the budget a whole statement may hold.
Both settings are SET LOCAL and put back after the statement, so they end with the
transaction at the latest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.bulk import is_postgres

_SET: Final = text("SELECT set_config(:name, :value, true)")  # true: this transaction only
_PLAN_SETTINGS: Final = text(
    "SELECT pg_size_bytes(current_setting('work_mem')) / 1024,"
    " current_setting('max_parallel_workers_per_gather')::int,"
    " current_setting('hash_mem_multiplier')::float8"
)
_PARALLEL_COSTS: Final = text(
    "SELECT current_setting('parallel_setup_cost'), current_setting('parallel_tuple_cost')"
)
# Below this a sort or hash spills for almost any input; a budget too small for every
# process to get it is exceeded rather than made useless.
FLOOR_KB: Final = 4096


async def _set(session: AsyncSession, name: str, value: str) -> None:
    await session.execute(_SET, {"name": name, "value": value})


def per_process_kb(
    budget_mb: int, processes: int, hashes: int, sorts: int, hash_multiplier: float
) -> int:
    """The ``work_mem`` (KiB) that keeps ``processes`` processes, each holding ``hashes``
    hash tables and ``sorts`` sorts, within ``budget_mb`` in all."""
    shares = processes * (hashes * hash_multiplier + sorts)
    return max(FLOOR_KB, int(budget_mb * 1024 / max(shares, 1.0)))


@asynccontextmanager
async def statement_memory(
    session: AsyncSession, budget_mb: int, *, hashes: int, sorts: int
) -> AsyncIterator[None]:
    """For the statements inside: a ``work_mem`` no larger than the one set, with which the
    leader and every worker a Gather may start, each holding ``hashes`` hash tables and
    ``sorts`` sorts (the plan's nodes per process), stay within ``budget_mb`` together."""
    if not is_postgres(session):
        yield
        return
    current_kb, workers, multiplier = (await session.execute(_PLAN_SETTINGS)).one()
    wanted = per_process_kb(budget_mb, 1 + int(workers), hashes, sorts, float(multiplier))
    await _set(session, "work_mem", f"{min(int(current_kb), wanted)}kB")
    yield
    # Not in a finally: after an error the transaction only takes a ROLLBACK, which ends
    # the SET LOCAL anyway.
    await _set(session, "work_mem", f"{int(current_kb)}kB")


@asynccontextmanager
async def parallel_plan(session: AsyncSession) -> AsyncIterator[None]:
    """For the statements inside: parallel plans costed as free to start and to gather
    from, so the planner takes them wherever they are possible. For a statement measured
    faster in parallel that the planner, misjudging its groups, would run in one process."""
    if not is_postgres(session):
        yield
        return
    setup, tuple_cost = (await session.execute(_PARALLEL_COSTS)).one()
    await _set(session, "parallel_setup_cost", "0")
    await _set(session, "parallel_tuple_cost", "0")
    yield
    await _set(session, "parallel_setup_cost", str(setup))
    await _set(session, "parallel_tuple_cost", str(tuple_cost))
