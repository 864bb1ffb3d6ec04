"""The worker: claims each job once, records success, failure and the reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from endcap.config import DatabaseSettings, Settings
from endcap.db.engine import SessionFactory, create_session_factory
from endcap.jobs.models import Job
from endcap.jobs.service import JobService
from endcap.jobs.worker import HANDLERS, JobRejectedError, ProgressCallback, Worker
from tests.ingest.support import Db

KIND = f"test-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def sessions(db: Db) -> SessionFactory:
    return create_session_factory(db.engine)


@pytest.fixture
def settings(db: Db) -> Settings:
    chosen = Settings()
    chosen.database = DatabaseSettings(url=db.url)
    return chosen


async def _enqueue(sessions: SessionFactory, kind: str, params: dict[str, Any]) -> uuid.UUID:
    async with sessions() as session:
        job = await JobService(session).enqueue(kind, params, None)
        await session.commit()
    return job.id


async def _read(sessions: SessionFactory, job_id: uuid.UUID) -> Any:
    async with sessions() as session:
        return await JobService(session).get(job_id)


async def _drain(worker: Worker) -> int:
    ran = 0
    while await worker.run_one():
        ran += 1
    return ran


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

    HANDLERS[KIND] = handler
    try:
        ok = await _enqueue(sessions, KIND, {"name": "ok"})
        bad = await _enqueue(sessions, KIND, {"name": "bad"})
        crash = await _enqueue(sessions, KIND, {"name": "crash"})
        unknown = await _enqueue(sessions, KIND + "-nobody", {"name": "x"})

        ran = await _drain(Worker(sessions, settings))
    finally:
        del HANDLERS[KIND]

    assert ran >= 4
    assert sorted(calls) == ["bad", "crash", "ok"]
    done = await _read(sessions, ok)
    assert (done.status, done.message, done.progress_done, done.progress_total) == (
        "succeeded",
        "fine",
        2,
        2,
    )
    refused = await _read(sessions, bad)
    assert (refused.status, refused.error) == ("failed", "2 rejected rows")
    assert refused.result == {"report": {"rows_rejected": 2}}
    crashed = await _read(sessions, crash)
    assert crashed.status == "failed"
    assert crashed.error == "RuntimeError: disk full"
    orphan = await _read(sessions, unknown)
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

    HANDLERS[KIND] = handler
    try:
        for n in range(20):
            await _enqueue(sessions, KIND, {"n": n})
        await asyncio.gather(*(_drain(Worker(sessions, settings)) for _ in range(4)))
    finally:
        del HANDLERS[KIND]

    assert sorted(seen) == list(range(20))
