"""Queries on jobs, including the claim that hands a queued job to exactly one worker."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
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
        claimed = await self.session.execute(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.status) == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, started_at=utcnow())
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        return await self.session.get(Job, job_id, populate_existing=True)

    async def set_fields(self, job_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(Job).where(col(Job.id) == job_id).values(**values))

    async def list_page(self, page: PageRequest, kind: str | None = None) -> list[Job]:
        stmt = select(Job)
        if kind:
            stmt = stmt.where(col(Job.kind) == kind)
        stmt = keyset(stmt, col(Job.created_at), col(Job.id), page)
        return list((await self.session.exec(stmt)).all())
