"""Leases: a job whose worker died is run again (or failed after its last attempt); a live
slow job keeps its lease; an abandoned job is reclaimed exactly once; a run that lost its
lease is stopped."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings, WorkerSettings
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.jobs.models import Job
from endcap.jobs.reclaim import Reclaim
from endcap.jobs.worker import ProgressCallback, Worker
from tests.jobs.queue import claim_and_die, drain, enqueue, new_kind, read, registered

LONG_AGO = timedelta(minutes=10)  # far past the default 60 s lease


def with_worker(settings: Settings, **values: Any) -> Settings:
    settings.worker = WorkerSettings(in_process=False, **values)
    return settings


async def test_a_job_left_running_by_a_dead_worker_runs_again_to_success(
    sessions: SessionFactory, settings: Settings
) -> None:
    kind = new_kind()
    calls: list[int] = []

    async def handler(
        _s: SessionFactory, _c: Settings, job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        calls.append(job.attempts)
        return {"message": "done"}

    with registered(kind, handler):
        job_id = await enqueue(sessions, kind, {})
        await claim_and_die(sessions, silent_for=LONG_AGO)
        worker = Worker(sessions, settings)

        # On SQLite the one worker reclaims at its start; on PostgreSQL by the lease.
        assert await worker.reclaim_abandoned(at_start=True) == 1
        requeued = await read(sessions, job_id)
        assert (requeued.status, requeued.attempts, requeued.started_at) == ("queued", 1, None)

        assert await drain(worker) == 1

    done = await read(sessions, job_id)
    assert (done.status, done.attempts, done.message, done.error) == ("succeeded", 2, "done", None)
    assert calls == [2]


async def test_after_its_last_attempt_an_abandoned_job_fails_and_is_not_retried(
    sessions: SessionFactory, settings: Settings
) -> None:
    kind = new_kind()
    calls: list[Job] = []

    async def handler(
        _s: SessionFactory, _c: Settings, job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        calls.append(job)
        return {}

    worker = Worker(sessions, with_worker(settings, max_attempts=2))
    with registered(kind, handler):
        job_id = await enqueue(sessions, kind, {})
        for _ in range(2):
            await claim_and_die(sessions, silent_for=LONG_AGO)
            assert await worker.reclaim_abandoned(at_start=True) == 1

        assert await drain(worker) == 0
        assert await worker.reclaim_abandoned(at_start=True) == 0

    failed = await read(sessions, job_id)
    assert failed.status == "failed"
    assert failed.error == "abandoned: the worker running it stopped responding (2 attempts)"
    assert failed.attempts == 2
    assert failed.finished_at is not None
    assert calls == []


@pytest.mark.postgres  # SQLite renews no lease: its one worker reclaims only at its start
async def test_a_live_slow_job_keeps_its_lease(
    sessions: SessionFactory, settings: Settings
) -> None:
    kind = new_kind()
    lease = 0.3
    settings = with_worker(settings, lease_seconds=lease)
    reclaimed: list[int] = []

    async def slow(
        _s: SessionFactory, _c: Settings, _job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        await asyncio.sleep(lease * 5)
        return {"message": "slow but alive"}

    async def rival() -> None:
        other = Worker(sessions, settings)
        for _ in range(12):
            await asyncio.sleep(lease / 2)
            reclaimed.append(await other.reclaim_abandoned())

    with registered(kind, slow):
        job_id = await enqueue(sessions, kind, {})
        ran, _ = await asyncio.gather(drain(Worker(sessions, settings)), rival())

    done = await read(sessions, job_id)
    assert ran == 1
    assert reclaimed == [0] * 12
    assert (done.status, done.attempts, done.message) == ("succeeded", 1, "slow but alive")


@pytest.mark.postgres
async def test_concurrent_reclaimers_take_each_abandoned_job_exactly_once(
    sessions: SessionFactory, settings: Settings
) -> None:
    kind = new_kind()
    hooked: list[str] = []

    async def handler(
        _s: SessionFactory, _c: Settings, _job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        return {}

    async def on_abandoned(
        _session: AsyncSession, _c: Settings, job: Job, verdict: Reclaim
    ) -> Reclaim:
        hooked.append(job.params["n"])
        await asyncio.sleep(0.01)  # hold the row lock while the others look
        return verdict

    with registered(kind, handler, on_abandoned):
        ids = [await enqueue(sessions, kind, {"n": str(n)}) for n in range(20)]
        for _ in ids:
            await claim_and_die(sessions, silent_for=LONG_AGO)
        counts = await asyncio.gather(
            *(Worker(sessions, settings).reclaim_abandoned() for _ in range(4))
        )

    assert sum(counts) == 20
    assert sorted(hooked, key=int) == [str(n) for n in range(20)]
    for job_id in ids:
        job = await read(sessions, job_id)
        assert (job.status, job.attempts) == ("queued", 1)


async def test_a_worker_that_lost_its_lease_does_not_record_its_outcome(
    sessions: SessionFactory, settings: Settings
) -> None:
    kind = new_kind()
    runs: list[int] = []
    worker = Worker(sessions, settings)

    async def handler(
        sessions: SessionFactory, _c: Settings, job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        runs.append(job.attempts)
        if job.attempts == 1:  # this run stalls past its lease, and another worker reclaims it
            async with sessions() as session:
                row = await session.get(Job, job.id)
                assert row is not None
                row.heartbeat_at = row.heartbeat_at - LONG_AGO if row.heartbeat_at else None
                await session.commit()
            assert await Worker(sessions, settings).reclaim_abandoned(at_start=True) == 1
        return {"message": f"run {job.attempts}"}

    with registered(kind, handler):
        job_id = await enqueue(sessions, kind, {})
        assert await drain(worker) == 2

    done = await read(sessions, job_id)
    assert runs == [1, 2]
    assert (done.status, done.attempts, done.message) == ("succeeded", 2, "run 2")


@pytest.mark.postgres  # SQLite renews no lease, so a run there cannot learn that it lost it
async def test_a_run_whose_lease_renewal_is_refused_is_stopped(
    sessions: SessionFactory, settings: Settings
) -> None:
    kind = new_kind()
    lease = 0.3
    worker = Worker(sessions, with_worker(settings, lease_seconds=lease))
    started, outcome = asyncio.Event(), []

    async def handler(
        _s: SessionFactory, _c: Settings, _job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.sleep(lease * 30)
        except asyncio.CancelledError:
            outcome.append("stopped")
            raise
        outcome.append("ran to the end")  # beside the run that replaced it
        return {"message": "stale"}

    async def steal() -> None:
        await started.wait()
        # What another worker's reclaim and claim leave in the row: the next claim number.
        async with sessions() as session:
            await session.execute(
                update(Job)
                .where(col(Job.id) == job_id)
                .values(attempts=col(Job.attempts) + 1, heartbeat_at=utcnow())
            )
            await session.commit()

    with registered(kind, handler):
        job_id = await enqueue(sessions, kind, {})
        began = time.monotonic()
        ran, _ = await asyncio.gather(worker.run_one(), steal())
        took = time.monotonic() - began

    stolen = await read(sessions, job_id)
    assert ran is True
    assert outcome == ["stopped"]
    assert took < lease * 5  # at the first refused renewal, not when the handler ended
    assert (stolen.status, stolen.attempts, stolen.message) == ("running", 2, None)


async def test_a_failing_hook_fails_its_job_instead_of_blocking_the_reclaim(
    sessions: SessionFactory, settings: Settings
) -> None:
    kind = new_kind()

    async def handler(
        _s: SessionFactory, _c: Settings, _job: Job, _p: ProgressCallback
    ) -> dict[str, Any]:
        return {}

    async def broken(_session: AsyncSession, _c: Settings, _job: Job, _v: Reclaim) -> Reclaim:
        raise RuntimeError("the hook is broken")

    with registered(kind, handler, broken):
        job_id = await enqueue(sessions, kind, {})
        await claim_and_die(sessions, silent_for=LONG_AGO)
        assert await Worker(sessions, settings).reclaim_abandoned(at_start=True) == 1

    failed = await read(sessions, job_id)
    assert failed.status == "failed"
    assert failed.error == (
        "abandoned: the worker running it stopped responding (1 attempt);"
        " reclaiming it failed: RuntimeError: the hook is broken"
    )
