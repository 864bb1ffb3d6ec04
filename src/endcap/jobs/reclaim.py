"""Reclaiming jobs whose worker stopped responding (killed, out of memory, its machine gone).

Such a job stays ``running`` with a heartbeat that no longer moves. Once the heartbeat
is older than the lease, a worker reclaims it: back to the queue while it has runs left
(``max_attempts``), failed as abandoned after that. Handlers must therefore be safe to
run again from the start; a job kind whose rows follow its job (an activation) or that
cannot always be re-run registers an ``on_abandoned`` hook beside its handler.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings
from endcap.db.types import utcnow
from endcap.jobs.failure import shortened
from endcap.jobs.models import Job, JobStatus
from endcap.jobs.repository import JobRepository

log = logging.getLogger("endcap.worker")


@dataclass(frozen=True, slots=True)
class Reclaim:
    """What becomes of an abandoned job: queued again, or failed with ``error``."""

    error: str | None = None

    @property
    def requeue(self) -> bool:
        return self.error is None


# Called in the reclaim's transaction with the verdict the job's attempts allow. It may
# turn a requeue into a failure (with its own error), never the reverse, and brings the
# kind's own rows in line with the verdict it returns.
AbandonedHook = Callable[[AsyncSession, Settings, Job, Reclaim], Awaitable[Reclaim]]
ON_ABANDONED: dict[str, AbandonedHook] = {}


def abandoned_error(attempts: int) -> str:
    runs = "attempt" if attempts == 1 else "attempts"
    return f"abandoned: the worker running it stopped responding ({attempts} {runs})"


async def reclaim(session: AsyncSession, settings: Settings, job: Job) -> Reclaim | None:
    """Requeue or fail ``job`` (locked by :meth:`JobRepository.next_abandoned`) and run its
    kind's hook, in the caller's transaction; None if another worker got there first
    (the caller then rolls back what the hook did)."""
    verdict = Reclaim()
    if job.attempts >= settings.worker.max_attempts:
        verdict = Reclaim(abandoned_error(job.attempts))
    hook = ON_ABANDONED.get(job.kind)
    if hook is not None:
        verdict = await hook(session, settings, job, verdict)
    heartbeat = job.heartbeat_at  # read now: the update below refreshes ``job``
    if not await _apply(JobRepository(session), job.id, job.attempts, verdict):
        return None
    outcome = "queued again" if verdict.requeue else f"failed ({verdict.error})"
    log.warning(
        "job %s (%s) was abandoned (last heartbeat %s, attempt %s of %s): %s",
        job.id,
        job.kind,
        heartbeat.isoformat() if heartbeat else "never",
        job.attempts,
        settings.worker.max_attempts,
        outcome,
    )
    return verdict


async def fail_unhooked(
    session: AsyncSession, job_id: uuid.UUID, attempts: int, reason: str
) -> bool:
    """Fail an abandoned job without its kind's hook (the hook itself failed): a job that
    cannot be reclaimed must not stay first in line for every later reclaim."""
    error = shortened(f"{abandoned_error(attempts)}; reclaiming it failed: {reason}")
    return await _apply(JobRepository(session), job_id, attempts, Reclaim(error))


async def _apply(jobs: JobRepository, job_id: uuid.UUID, attempts: int, verdict: Reclaim) -> bool:
    if verdict.requeue:
        return await jobs.requeue(job_id, attempts)
    return await jobs.update_run(
        job_id, attempts, status=JobStatus.FAILED, error=verdict.error, finished_at=utcnow()
    )
