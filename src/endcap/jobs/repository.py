"""Queries on jobs: the claim that hands a queued job to exactly one worker, the lease
a running job keeps, and finding the jobs whose worker stopped renewing it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.bulk import is_postgres
from endcap.db.types import utcnow
from endcap.jobs.models import Job, JobStatus
from endcap.pagination import PageRequest, keyset


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, job: Job) -> Job:
        self.session.add(job)
        await self.session.flush()
        return job

    async def get(self, job_id: uuid.UUID) -> Job | None:
        return await self.session.get(Job, job_id)

    async def claim_next(self) -> Job | None:
        """Mark the oldest queued job running and return it; None when the queue is empty.

        On PostgreSQL, SKIP LOCKED lets several workers claim side by side; on
        SQLite the conditional update is enough (one writer at a time).
        """
        pick = (
            select(Job.id)
            .where(col(Job.status) == JobStatus.QUEUED)
            .order_by(col(Job.created_at))
            .limit(1)
        )
        if is_postgres(self.session):
            pick = pick.with_for_update(skip_locked=True)
        job_id = (await self.session.exec(pick)).first()
        if job_id is None:
            return None
        now = utcnow()
        claimed = await self.session.execute(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.status) == JobStatus.QUEUED)
            .values(
                status=JobStatus.RUNNING,
                started_at=now,
                heartbeat_at=now,
                attempts=col(Job.attempts) + 1,
            )
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        return await self.session.get(Job, job_id, populate_existing=True)

    async def next_abandoned(self, stale_before: datetime) -> Job | None:
        """A running job whose heartbeat is older than ``stale_before`` (or missing), locked
        for this transaction; None when there is none.

        On PostgreSQL SKIP LOCKED hands each abandoned job to one reclaimer; on SQLite
        the fenced updates below refuse the second one.
        """
        pick = (
            select(Job)
            .where(
                col(Job.status) == JobStatus.RUNNING,
                # A job claimed before leases existed has no heartbeat: its start counts.
                func.coalesce(col(Job.heartbeat_at), col(Job.started_at)) < stale_before,
            )
            .order_by(col(Job.heartbeat_at))
            .limit(1)
        )
        if is_postgres(self.session):
            pick = pick.with_for_update(skip_locked=True)
        return (await self.session.exec(pick.execution_options(populate_existing=True))).first()

    async def update_run(self, job_id: uuid.UUID, attempt: int, **values: Any) -> bool:
        """Set ``values`` on the job if it is still running as claim number ``attempt``.

        False when it is not: it was reclaimed meanwhile, and whoever runs it now (or
        the reclaim's verdict) owns it.
        """
        updated = await self.session.execute(
            update(Job)
            .where(
                col(Job.id) == job_id,
                col(Job.status) == JobStatus.RUNNING,
                col(Job.attempts) == attempt,
            )
            .values(**values)
        )
        return bool(updated.rowcount)  # type: ignore[attr-defined]

    async def holds_claim(self, job_id: uuid.UUID, attempt: int) -> bool:
        """True if the job is still running as claim number ``attempt``; on PostgreSQL the
        row is then share-locked until the transaction ends, so that no reclaim can take
        the job before what the caller records beside the check is committed."""
        query = select(Job.id).where(
            col(Job.id) == job_id,
            col(Job.status) == JobStatus.RUNNING,
            col(Job.attempts) == attempt,
        )
        if is_postgres(self.session):
            query = query.with_for_update(read=True)
        return (await self.session.exec(query)).first() is not None

    async def requeue(self, job_id: uuid.UUID, attempt: int) -> bool:
        """Put a running job back in the queue, as new but for its attempts (fenced as
        :meth:`update_run`)."""
        return await self.update_run(
            job_id,
            attempt,
            status=JobStatus.QUEUED,
            started_at=None,
            heartbeat_at=None,
            progress_done=0,
            progress_total=None,
            message=None,
        )

    async def list_page(self, page: PageRequest, kind: str | None = None) -> list[Job]:
        stmt = select(Job)
        if kind:
            stmt = stmt.where(col(Job.kind) == kind)
        stmt = keyset(stmt, col(Job.created_at), col(Job.id), page)
        return list((await self.session.exec(stmt)).all())
