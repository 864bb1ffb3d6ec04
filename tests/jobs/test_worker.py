"""The worker: claims each job once, records success, failure and the reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import literal_column, select, table

from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.jobs.models import Job
from endcap.jobs.worker import JobRejectedError, ProgressCallback, Worker
from tests.jobs.queue import drain, enqueue, new_kind, read, registered

KIND = new_kind()


async def test_jobs_run_once_and_record_their_outcome(
    sessions: SessionFactory, settings: Settings
) -> None:
    calls: list[str] = []

    async def handler(
        _s: SessionFactory, _c: Settings, job: Job, progress: ProgressCallback
    ) -> dict[str, Any]:
        calls.append(job.params["name"])
        progress(1, 2)
        if job.params["name"] == "bad":
            raise JobRejectedError("2 rejected rows", {"report": {"rows_rejected": 2}})
        if job.params["name"] == "crash":
            raise RuntimeError("disk full")
        return {"message": "fine", "progress_done": 2}

    with registered(KIND, handler):
        ok = await enqueue(sessions, KIND, {"name": "ok"})
        bad = await enqueue(sessions, KIND, {"name": "bad"})
        crash = await enqueue(sessions, KIND, {"name": "crash"})
        unknown = await enqueue(sessions, KIND + "-nobody", {"name": "x"})

        ran = await drain(Worker(sessions, settings))

    assert ran >= 4
    assert sorted(calls) == ["bad", "crash", "ok"]
    done = await read(sessions, ok)
    assert (done.status, done.message, done.progress_done, done.progress_total) == (
        "succeeded",
        "fine",
        2,
        2,
    )
    refused = await read(sessions, bad)
    assert (refused.status, refused.error) == ("failed", "2 rejected rows")
    assert refused.result == {"report": {"rows_rejected": 2}}
    crashed = await read(sessions, crash)
    assert crashed.status == "failed"
    assert crashed.error == "RuntimeError: disk full"
    orphan = await read(sessions, unknown)
    assert orphan.status == "failed"
    assert "no handler" in orphan.error
    assert all(j.finished_at is not None for j in (done, refused, crashed, orphan))


@pytest.mark.postgres
async def test_two_workers_never_run_the_same_job(
    sessions: SessionFactory, settings: Settings
) -> None:
    import asyncio  # noqa: PLC0415

    seen: list[int] = []

    async def handler(
        _s: SessionFactory, _c: Settings, job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        seen.append(job.params["n"])
        return {}

    with registered(KIND, handler):
        for n in range(20):
            await enqueue(sessions, KIND, {"n": n})
        await asyncio.gather(*(drain(Worker(sessions, settings)) for _ in range(4)))

    assert sorted(seen) == list(range(20))


async def test_a_failed_statement_is_recorded_by_the_driver_message_without_sql_or_parameters(
    sessions: SessionFactory, settings: Settings
) -> None:
    async def handler(
        sessions: SessionFactory, _c: Settings, _job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        # 5,000 bound values: SQLAlchemy's own message would quote the statement and all of them.
        wanted = literal_column("shopper").in_([f"shopper-{n:05}" for n in range(5000)])
        async with sessions() as session:
            await session.execute(
                select(literal_column("shopper")).select_from(table("nowhere")).where(wanted)
            )
        return {}

    async def long_failure(
        _s: SessionFactory, _c: Settings, _job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        raise RuntimeError("x" * 1_000_000)

    with registered(KIND, handler), registered(KIND + "-long", long_failure):
        failing = await enqueue(sessions, KIND, {})
        long = await enqueue(sessions, KIND + "-long", {})
        await drain(Worker(sessions, settings))

    failed = await read(sessions, failing)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "nowhere" in failed.error  # the driver's message names the missing table
    assert "shopper-00000" not in failed.error
    assert "[SQL" not in failed.error
    assert len(failed.error) <= 2000
    cut = await read(sessions, long)
    assert cut.error is not None
    assert cut.error.startswith("RuntimeError: xxx")
    assert len(cut.error) <= 2000
