"""Enqueueing jobs and reading their status."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.errors import NotFoundError
from endcap.jobs.models import Job
from endcap.jobs.repository import JobRepository
from endcap.jobs.schemas import JobPublic
from endcap.pagination import Page, PageRequest, next_cursor


class JobService:
    def __init__(self, session: AsyncSession) -> None:
        self.jobs = JobRepository(session)

    async def enqueue(
        self, kind: str, params: dict[str, Any], created_by: uuid.UUID | None
    ) -> JobPublic:
        job = await self.jobs.add(Job(kind=kind, params=params, created_by=created_by))
        return public(job)

    async def holds_claim(self, job: Job) -> bool:
        """Whether ``job`` (as its worker claimed it) is still that worker's to run: running
        under the same claim number. Check it beside a write that must not happen twice
        (e.g. before something leaves Endcap); see :meth:`JobRepository.holds_claim`."""
        return await self.jobs.holds_claim(job.id, job.attempts)

    async def get(self, job_id: uuid.UUID) -> JobPublic:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job with id {job_id}")
        return public(job)

    async def list(self, page: PageRequest, kind: str | None = None) -> Page[JobPublic]:
        rows, cursor = next_cursor(await self.jobs.list_page(page, kind), page)
        return Page[JobPublic](items=[public(j) for j in rows], next_cursor=cursor)


def public(job: Job) -> JobPublic:
    return JobPublic.model_validate(job, from_attributes=True)
