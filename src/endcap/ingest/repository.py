"""Queries on ingest runs, and the lock that serialises loads of one entity."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.db.locks import hold_lock
from endcap.ingest.models import IngestRun
from endcap.pagination import PageRequest, keyset


class IngestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, name: str) -> None:
        """Wait for, then hold until commit, the lock called ``name`` (PostgreSQL advisory lock).

        SQLite has one writer at a time; the load takes the write lock up front
        instead, because a read transaction that later writes fails outright in
        WAL mode once anyone else has committed meanwhile.
        """
        await hold_lock(self.session, name, sqlite_write_lock=table_of(IngestRun))

    async def add(self, run: IngestRun) -> IngestRun:
        self.session.add(run)
        await self.session.flush()
        return run

    async def get(self, run_id: uuid.UUID) -> IngestRun | None:
        return await self.session.get(IngestRun, run_id)

    async def by_job(self, job_id: uuid.UUID) -> IngestRun | None:
        stmt = select(IngestRun).where(col(IngestRun.job_id) == job_id)
        return (await self.session.exec(stmt)).first()

    async def list_page(self, page: PageRequest, entity: str | None = None) -> list[IngestRun]:
        stmt = select(IngestRun)
        if entity:
            stmt = stmt.where(col(IngestRun.entity) == entity)
        stmt = keyset(stmt, col(IngestRun.started_at), col(IngestRun.id), page)
        return list((await self.session.exec(stmt)).all())

    async def count(self) -> int:
        return int(
            (await self.session.execute(select(func.count()).select_from(IngestRun))).scalar_one()
        )
