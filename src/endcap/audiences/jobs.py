"""The "audience_refresh" job: a new member version of the audience, if its rule is still
the one the refresh was asked for (AudienceService.refresh)."""

from __future__ import annotations

import uuid
from typing import Any

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
        "message": f"{size} members",
    }
