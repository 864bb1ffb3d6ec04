"""Refreshing traits: purchases → per-profile traits and spend, then customer value
and value clusters. Runs as a job; the whole refresh is one transaction, so
audiences never see half-computed traits."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.bulk import batch_memory
from endcap.errors import NotFoundError
from endcap.traits.models import ProfileTraits
from endcap.traits.repository import TraitsRepository
from endcap.traits.schemas import ProfileTraitsPublic, TraitsRefreshReport
from endcap.traits.value import assign_clusters, score_value

Progress = Callable[[int, int | None], None]
STEPS = 4


class TraitsService:
    def __init__(self, session: AsyncSession, work_mem_mb: int = 256) -> None:
        self.session = session
        self.traits = TraitsRepository(session)
        self.work_mem_mb = work_mem_mb

    async def refresh(
        self, *, as_of: datetime | None = None, progress: Progress | None = None
    ) -> TraitsRefreshReport:
        """Recompute every profile's traits as of ``as_of`` (default: the latest purchase)."""
        tick = progress or (lambda _done, _total: None)
        seconds: dict[str, float] = {}
        await batch_memory(self.session, self.work_mem_mb)
        as_of = as_of or await self.traits.latest_purchase()
        if as_of is None:
            return TraitsRefreshReport(
                as_of=None, profiles=0, spend_rows={}, value_model=None, clusters=None, seconds={}
            )
        started = time.perf_counter()
        profiles = await self.traits.rebuild_profile_traits(as_of)
        seconds["traits"] = _lap(started)
        tick(1, STEPS)
        started = time.perf_counter()
        spend_rows = await self.traits.rebuild_spend(as_of)
        seconds["spend"] = _lap(started)
        tick(2, STEPS)
        started = time.perf_counter()
        value_model = await score_value(self.session, as_of)
        seconds["value"] = _lap(started)
        tick(3, STEPS)
        started = time.perf_counter()
        clusters = await assign_clusters(self.session)
        seconds["clusters"] = _lap(started)
        tick(4, STEPS)
        return TraitsRefreshReport(
            as_of=as_of,
            profiles=profiles,
            spend_rows=spend_rows,
            value_model=value_model,
            clusters=clusters,
            seconds=seconds,
        )

    async def of_profile(self, profile_id: int) -> ProfileTraitsPublic:
        found = await self.session.get(ProfileTraits, profile_id)
        if found is None:
            raise NotFoundError(
                f"no traits for profile {profile_id} (no purchases, or not refreshed yet)"
            )
        return ProfileTraitsPublic.model_validate(found, from_attributes=True)


def _lap(started: float) -> float:
    return round(time.perf_counter() - started, 3)
