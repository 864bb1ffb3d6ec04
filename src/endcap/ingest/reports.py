"""Reading the kept reports of past loads."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.errors import NotFoundError
from endcap.ingest.repository import IngestRepository
from endcap.ingest.schemas import IngestReport
from endcap.ingest.service import report_of
from endcap.pagination import Page, PageRequest, next_cursor


class IngestReports:
    def __init__(self, session: AsyncSession) -> None:
        self.runs = IngestRepository(session)

    async def get(self, run_id: uuid.UUID) -> IngestReport:
        found = await self.runs.get(run_id)
        if found is None:
            raise NotFoundError(f"no ingest run with id {run_id}")
        return report_of(found)

    async def list(self, page: PageRequest, entity: str | None) -> Page[IngestReport]:
        # Runs are ordered by when they started (IngestRepository.list_page).
        rows, cursor = next_cursor(await self.runs.list_page(page, entity), page, "started_at")
        return Page[IngestReport](items=[report_of(r) for r in rows], next_cursor=cursor)
