"""Readiness: the database answers within a bounded time."""

from __future__ import annotations

import asyncio

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.errors import UnavailableError
from endcap.health.repository import HealthRepository
from endcap.problems import DATABASE_UNAVAILABLE


class HealthService:
    def __init__(self, session: AsyncSession, timeout: float) -> None:
        self.repository = HealthRepository(session)
        self.timeout = timeout

    async def check_database(self) -> None:
        """Raises UnavailableError (503) unless the database answers within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(self.timeout):
                await self.repository.ping()
        except DATABASE_UNAVAILABLE as exc:
            raise UnavailableError("the database is not reachable", check="database") from exc
