"""The "activation_export" job: export one activation's file and deliver it.

Each step has a transaction of its own: the activation shows as running at once;
the members are read in one read-only snapshot (consent as of that moment); no
transaction stays open while the channel is called. A failure is recorded on the
activation in its own committed transaction and then raised, so the job ends
failed with the same reason.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

from endcap.activation.delivery import DeliveryFailedError, Parcel, deliver
from endcap.activation.export import ExportCounts
from endcap.activation.service import EXPORT_JOB, ActivationService
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.errors import EndcapError
from endcap.jobs.models import Job
from endcap.jobs.worker import ProgressCallback, handles


@handles(EXPORT_JOB)
async def run_export(
    sessions: SessionFactory, settings: Settings, job: Job, progress: ProgressCallback
) -> dict[str, Any]:
    activation_id = uuid.UUID(str(job.params["activation_id"]))
    counts: ExportCounts | None = None
    spool: Path | None = None
    try:
        async with sessions() as session:
            plan = await ActivationService(session, settings).start(activation_id)
            await session.commit()
        async with sessions() as session:
            spool, counts = await ActivationService(session, settings).write_file(plan, progress)
        async with sessions() as session:
            # Writing a large file takes a while; the campaign may have ended meanwhile.
            await ActivationService(session, settings).recheck(plan)
        parcel = Parcel(spool, plan.activation_id, plan.campaign_id, plan.channel.value)
        delivered = await deliver(parcel, plan.endpoint_url, settings.activation)
    except Exception as exc:
        reason = exc.detail if isinstance(exc, EndcapError) else f"{type(exc).__name__}: {exc}"
        attempts = exc.attempts if isinstance(exc, DeliveryFailedError) else 0
        async with sessions() as session:
            await ActivationService(session, settings).fail(
                activation_id, reason, attempts=attempts, counts=counts
            )
            await session.commit()
        raise
    finally:
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.unlink(missing_ok=True)  # gone already when it moved into the drop
    async with sessions() as session:
        activation = await ActivationService(session, settings).finish(plan, counts, delivered)
        await session.commit()
    return {
        "activation": activation.model_dump(mode="json"),
        "progress_done": counts.members,
        "message": f"{counts.exported} exported to {plan.channel.value} by {delivered.method}",
    }
