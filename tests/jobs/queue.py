"""Helpers for the worker tests: enqueue, read, run the queue dry, register a kind."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.jobs.models import Job
from endcap.jobs.reclaim import ON_ABANDONED, AbandonedHook
from endcap.jobs.repository import JobRepository
from endcap.jobs.schemas import JobPublic
from endcap.jobs.service import JobService
from endcap.jobs.worker import HANDLERS, Handler, Worker


def new_kind() -> str:
    return f"test-{uuid.uuid4().hex[:6]}"


@contextlib.contextmanager
def registered(
    kind: str, handler: Handler, on_abandoned: AbandonedHook | None = None
) -> Iterator[None]:
    HANDLERS[kind] = handler
    if on_abandoned is not None:
        ON_ABANDONED[kind] = on_abandoned
    try:
        yield
    finally:
        HANDLERS.pop(kind, None)
        ON_ABANDONED.pop(kind, None)


async def enqueue(sessions: SessionFactory, kind: str, params: dict[str, Any]) -> uuid.UUID:
    async with sessions() as session:
        job = await JobService(session).enqueue(kind, params, None)
        await session.commit()
    return job.id


async def read(sessions: SessionFactory, job_id: uuid.UUID) -> JobPublic:
    async with sessions() as session:
        return await JobService(session).get(job_id)


async def drain(worker: Worker) -> int:
    ran = 0
    while await worker.run_one():
        ran += 1
    return ran


async def claim_and_die(sessions: SessionFactory, *, silent_for: timedelta) -> Job:
    """Claim the next job as a worker would, then leave it as that worker's death does:
    running, its heartbeat ``silent_for`` old."""
    async with sessions() as session:
        job = await JobRepository(session).claim_next()
        assert job is not None
        await session.execute(
            update(Job).where(col(Job.id) == job.id).values(heartbeat_at=utcnow() - silent_for)
        )
        await session.commit()
    return job
