"""A parallel statement's memory budget and plan settings: sized, set, then put back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.parallel import FLOOR_KB, parallel_plan, per_process_kb, statement_memory


def test_the_budget_is_split_over_every_process_and_node() -> None:
    # The leader and two workers, each one hash table (x2) and one sort: 9 shares of 1 GiB.
    assert per_process_kb(1024, 3, hashes=1, sorts=1, hash_multiplier=2.0) == 1024 * 1024 // 9
    # A sort only in each of the three.
    assert per_process_kb(1024, 3, hashes=0, sorts=1, hash_multiplier=2.0) == 1024 * 1024 // 3


@given(
    budget=st.integers(16, 65536),
    processes=st.integers(1, 16),
    hashes=st.integers(0, 4),
    sorts=st.integers(0, 4),
    multiplier=st.floats(1.0, 8.0),
)
def test_the_processes_together_stay_within_the_budget_above_the_floor(
    budget: int, processes: int, hashes: int, sorts: int, multiplier: float
) -> None:
    each = per_process_kb(budget, processes, hashes, sorts, multiplier)
    assert each >= FLOOR_KB
    if each > FLOOR_KB:
        assert processes * (hashes * multiplier + sorts) * each <= budget * 1024 + 1e-6


async def _setting(session: AsyncSession, name: str) -> str:
    return str((await session.execute(text(f"SELECT current_setting('{name}')"))).scalar_one())


@pytest.mark.postgres
async def test_statement_memory_cuts_work_mem_for_the_statement_and_puts_it_back(
    session: AsyncSession,
) -> None:
    await session.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    await session.execute(text("SELECT set_config('max_parallel_workers_per_gather', '2', true)"))
    await session.execute(text("SELECT set_config('hash_mem_multiplier', '2', true)"))

    async with statement_memory(session, 1024, hashes=1, sorts=1):
        assert await _setting(session, "work_mem") == f"{1024 * 1024 // 9}kB"
    assert await _setting(session, "work_mem") == "256MB"

    # A budget larger than the work_mem already set never raises it.
    async with statement_memory(session, 8192, hashes=0, sorts=1):
        assert await _setting(session, "work_mem") == "256MB"


@pytest.mark.postgres
async def test_parallel_plan_zeroes_the_parallel_costs_and_puts_them_back(
    session: AsyncSession,
) -> None:
    before = (
        await _setting(session, "parallel_setup_cost"),
        await _setting(session, "parallel_tuple_cost"),
    )
    async with parallel_plan(session):
        assert await _setting(session, "parallel_setup_cost") == "0"
        assert await _setting(session, "parallel_tuple_cost") == "0"
    assert (
        await _setting(session, "parallel_setup_cost"),
        await _setting(session, "parallel_tuple_cost"),
    ) == before
