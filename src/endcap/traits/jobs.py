"""The "traits_refresh" job."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.jobs.models import Job
from endcap.jobs.worker import ProgressCallback, handles
from endcap.traits.clusters import K_CANDIDATES
from endcap.traits.service import STEPS, RefreshMode, TraitsService
from endcap.traits.spend_table import vacuum_spend


@handles("traits_refresh")
async def run_refresh(
    sessions: SessionFactory, settings: Settings, job: Job, progress: ProgressCallback
) -> dict[str, Any]:
    async with sessions() as session:
        service = TraitsService(
            session,
            settings.database.batch_work_mem_mb,
            sample_profiles=settings.audience.estimate_sample_profiles,
            statement_memory_mb=settings.database.batch_statement_memory_mb,
        )
        mode = RefreshMode(job.params.get("mode", RefreshMode.AUTO.value))
        candidates = K_CANDIDATES if job.params.get("choose_k") else None
        report = await service.refresh(mode=mode, progress=progress, k_candidates=candidates)
        await session.commit()
        engine = session.bind
    if isinstance(engine, AsyncEngine):
        await vacuum_spend(engine)
    return {
        "report": report.model_dump(mode="json"),
        "progress_done": STEPS,
        "message": f"{report.mode} refresh: {report.recomputed} of {report.profiles} profiles "
        "recomputed from purchases",
    }
