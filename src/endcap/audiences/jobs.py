"""The "audience_refresh" job: a new member version of the audience, if its rule is still
the one the refresh was asked for (AudienceService.refresh)."""

from __future__ import annotations

import uuid
from typing import Any

from endcap.audiences.models import AudienceStatus
from endcap.audiences.schemas import AudiencePublic
from endcap.audiences.service import REFRESH_JOB, REFRESH_STEPS, AudienceService, RefreshAsked
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.jobs.models import Job
from endcap.jobs.worker import ProgressCallback, handles


@handles(REFRESH_JOB)
async def run_refresh(
    sessions: SessionFactory, settings: Settings, job: Job, progress: ProgressCallback
) -> dict[str, Any]:
    async with sessions() as session:
        audience = await AudienceService(session, settings.privacy_gate).refresh(
            uuid.UUID(job.params["audience_id"]), RefreshAsked.from_params(job.params), progress
        )
        await session.commit()
    size = audience.current.size if audience.current else 0
    return {
        "audience": audience.model_dump(mode="json"),
        "progress_done": REFRESH_STEPS,
        "message": f"{size} members" + _unbookable(audience, settings.privacy_gate.min_audience),
    }


def _unbookable(audience: AudiencePublic, minimum: int) -> str:
    """What the retailer must know of a published audience that shrank below the minimum:
    it stays published, but brands neither see nor book it (catalog.py) until it grows."""
    reach = audience.current.reach if audience.current else {}
    if audience.status != AudienceStatus.PUBLISHED or max(reach.values(), default=0) >= minimum:
        return ""
    return (
        f"; below the minimum of {minimum} on every channel, so brands neither see nor book"
        " it until it grows again (delete it to take it out for good)"
    )
