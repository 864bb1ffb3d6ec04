"""The "ingest" job: load an uploaded file, then remove the spooled copy.

Safe to run again after its worker died (see :mod:`endcap.jobs.reclaim`): the load and
its report commit in one transaction, and the file is removed only after that. So a
re-run finds either nothing committed and the file still there (it loads it), or the
report of the committed load (it returns that, and the file may be gone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.ingest.schemas import IngestReport
from endcap.ingest.service import IngestService
from endcap.jobs.models import Job
from endcap.jobs.worker import JobRejectedError, ProgressCallback, handles


@handles("ingest")
async def run_ingest(
    sessions: SessionFactory, settings: Settings, job: Job, progress: ProgressCallback
) -> dict[str, Any]:
    path = Path(job.params["path"])
    try:
        async with sessions() as session:
            service = IngestService(session, settings)
            report = await service.recorded(job.id)
            if report is None:
                report = await service.load(
                    job.params["entity"],
                    path,
                    source_name=job.params["source_name"],
                    progress=progress,
                    job_id=job.id,
                )
                await session.commit()
    finally:
        await anyio.Path(path).unlink(missing_ok=True)
    return _outcome(report)


def _outcome(report: IngestReport) -> dict[str, Any]:
    result = {"report": report.model_dump(mode="json"), "progress_done": report.rows_read}
    if report.status != "loaded":
        raise JobRejectedError(
            f"{report.rows_rejected} rejected row(s); nothing was applied", result
        )
    return {**result, "message": f"{report.rows_inserted} inserted, {report.rows_updated} updated"}
