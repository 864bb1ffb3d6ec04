"""The worker: claims queued jobs one at a time and runs them.

A job's own work runs in its own transaction; progress is written in short
transactions beside it, so a client polling the job sees it move. A job that
raises is marked failed with the reason, and whatever it did is rolled back.

A running job is leased: the worker renews its heartbeat beside the work, and
reclaims other workers' jobs whose heartbeat lapsed (see :mod:`endcap.jobs.reclaim`).
Every write about a running job is fenced by its claim number, so a worker that lost
its lease never records an outcome over the run that replaced it; and the run itself is
cancelled as soon as a renewal is refused, so that it stops doing its work twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.errors import EndcapError
from endcap.jobs.chores import CHORES
from endcap.jobs.failure import failure_reason
from endcap.jobs.models import Job, JobStatus
from endcap.jobs.reclaim import ON_ABANDONED, AbandonedHook, fail_unhooked, reclaim
from endcap.jobs.repository import JobRepository

log = logging.getLogger("endcap.worker")
ProgressCallback = Callable[[int, int | None], None]
Handler = Callable[[SessionFactory, Settings, Job, ProgressCallback], Awaitable[dict[str, Any]]]
HANDLERS: dict[str, Handler] = {}
PROGRESS_EVERY_SECONDS = 0.5  # progress writes are throttled: one short commit at most this often


class JobRejectedError(EndcapError):
    """The job ran to the end but its outcome is a refusal (e.g. a file with bad rows)."""

    def __init__(self, detail: str, result: dict[str, Any]) -> None:
        super().__init__(detail)
        self.result = result


def handles(
    kind: str, *, on_abandoned: AbandonedHook | None = None
) -> Callable[[Handler], Handler]:
    """Register the handler of ``kind``. A handler may be run again from the start after
    its worker died; ``on_abandoned`` keeps the kind's own rows in step when that happens
    (or refuses the re-run), see :mod:`endcap.jobs.reclaim`."""

    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        if on_abandoned is not None:
            ON_ABANDONED[kind] = on_abandoned
        return handler

    return register


class Worker:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        # SQLite has a single writer: a job holding it would block its own progress
        # writes, so there progress is reported when the job ends.
        self.live_progress = not settings.database.is_sqlite
        # Leases on SQLite: a heartbeat would queue behind the job's own transaction just
        # as progress does, and SQLite is the one-worker setup (the API's own worker, or
        # one `endcap worker`), so while that worker lives nothing else can find its job
        # abandoned. There the lease is not renewed, and jobs are reclaimed once, when the
        # worker starts: a job still running then was left by a process that died. (Two
        # workers on one SQLite file would reclaim each other's jobs as they start; run
        # several on PostgreSQL.)
        self.renews_lease = not settings.database.is_sqlite

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs until ``stop`` is set, polling the queue when it is empty. Abandoned
        jobs are reclaimed first, then every third of the lease (on SQLite: only first)."""
        reclaim_at = 0.0  # monotonic time of the next reclaim; 0: none has run yet
        chores_at: dict[str, float] = {}  # and of each chore's next run (jobs/chores.py)
        every = self.settings.worker.lease_seconds / 3 if self.renews_lease else math.inf
        while not stop.is_set():
            try:
                if time.monotonic() >= reclaim_at:
                    await self.reclaim_abandoned(at_start=reclaim_at == 0.0)
                    reclaim_at = time.monotonic() + every
                await self.run_due_chores(chores_at)
                ran = await self.run_one()
            except (
                Exception
            ):  # the loop must outlive any one failure (e.g. the database restarting)
                log.exception("worker loop error")
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.worker.poll_seconds)

    async def run_due_chores(self, due: dict[str, float]) -> None:
        """Run each registered chore whose time in ``due`` (monotonic; none yet: now) has
        come, and set its next. One failing is logged and tried again at its next time."""
        for name, chore in CHORES.items():
            if time.monotonic() < due.get(name, 0.0):
                continue
            due[name] = time.monotonic() + chore.every.total_seconds()
            try:
                done = await chore.run(self.sessions, self.settings)
            except Exception:
                log.exception("chore %s failed", name)
                continue
            if done:
                log.info("chore %s: %d cleared", name, done)

    async def reclaim_abandoned(self, *, at_start: bool = False) -> int:
        """Requeue or fail the running jobs whose heartbeat is older than the lease, each in
        a transaction of its own; how many. On SQLite only ``at_start``, and then every
        job still running (see ``renews_lease``)."""
        if self.renews_lease:
            stale_before = utcnow() - timedelta(seconds=self.settings.worker.lease_seconds)
        elif at_start:
            stale_before = utcnow()
        else:
            return 0
        reclaimed = 0
        seen: set[uuid.UUID] = set()
        while True:
            async with self.sessions() as session:
                job = await JobRepository(session).next_abandoned(stale_before)
                if job is None or job.id in seen:
                    return reclaimed
                job_id, attempts = job.id, job.attempts  # the rollback below expires ``job``
                seen.add(job_id)
                try:
                    verdict = await reclaim(session, self.settings, job)
                # A hook that fails must not keep its job first in line for every reclaim.
                except Exception as exc:
                    log.exception("reclaiming job %s failed; failing it", job_id)
                    await session.rollback()
                    done = await fail_unhooked(session, job_id, attempts, failure_reason(exc))
                else:
                    done = verdict is not None
                if done:
                    await session.commit()
                    reclaimed += 1
                else:  # another worker reclaimed it first: undo what the hook did
                    await session.rollback()

    async def run_one(self) -> bool:
        """Claim and run one job, renewing its lease while it runs; False when there was
        none."""
        async with self.sessions() as session:
            job = await JobRepository(session).claim_next()
            await session.commit()
        if job is None:
            return False
        ended, lost = asyncio.Event(), asyncio.Event()
        run = asyncio.create_task(self._run(job))
        lease = (
            asyncio.create_task(self._keep_lease(job, ended, lost, run))
            if self.renews_lease
            else None
        )
        try:
            await run
        except asyncio.CancelledError:
            # Stopped by _keep_lease: the job is another run's now, so this one ends quietly.
            # Any other cancellation (the worker itself stopping) goes on up.
            current = asyncio.current_task()
            if not lost.is_set() or (current is not None and current.cancelling()):
                raise
        finally:
            ended.set()
            if lease is not None:
                await lease
        return True

    async def _keep_lease(
        self, job: Job, ended: asyncio.Event, lost: asyncio.Event, run: asyncio.Task[None]
    ) -> None:
        """Renew ``job``'s heartbeat every third of the lease until ``ended`` is set; when a
        renewal is refused (the job was reclaimed, and may be running elsewhere already),
        set ``lost`` and cancel ``run``.

        Cancelling matters: a handler left running would go on writing and sending beside
        the run that replaced it (an activation pushed twice). The fence keeps a stale
        run's outcome from being recorded, but not its side effects; the cancellation
        stops them at the handler's next await, and handlers fence their own points of no
        return by the claim as well (see :mod:`endcap.activation.jobs`).

        It runs on the worker's event loop: a handler that holds the loop (CPU work not
        moved to a thread) for more than about two thirds of the lease loses its lease.
        """
        every = self.settings.worker.lease_seconds / 3
        while True:
            try:
                await asyncio.wait_for(ended.wait(), every)
            except TimeoutError:
                pass
            else:
                return
            try:
                if not await self._update(job, heartbeat_at=utcnow()):
                    log.warning(
                        "job %s (%s) was reclaimed while it ran here; stopping this run",
                        job.id,
                        job.kind,
                    )
                    lost.set()
                    run.cancel()
                    return
            # A missed renewal is not fatal: the lease lasts three of them.
            except Exception:
                log.warning("renewing the lease of job %s failed", job.id, exc_info=True)

    async def _run(self, job: Job) -> None:
        handler = HANDLERS.get(job.kind)
        pending: list[asyncio.Task[bool]] = []
        last = 0.0

        def progress(done: int, total: int | None) -> None:
            nonlocal last
            now = time.monotonic()
            if self.live_progress and now - last >= PROGRESS_EVERY_SECONDS:
                last = now
                pending.append(
                    asyncio.ensure_future(
                        self._update(job, progress_done=done, progress_total=total)
                    )
                )

        try:
            if handler is None:
                raise EndcapError(f"no handler for job kind {job.kind!r}")
            result = await handler(self.sessions, self.settings, job, progress)
        except Exception as exc:  # noqa: BLE001  (a job's failure is its outcome, kept for the client)
            await asyncio.gather(*pending, return_exceptions=True)
            reason = failure_reason(exc)
            log.warning("job %s (%s) failed: %s", job.id, job.kind, reason)
            outcome = exc.result if isinstance(exc, JobRejectedError) else None
            await self._record(
                job, status=JobStatus.FAILED, error=reason, result=outcome, finished_at=utcnow()
            )
            return
        await asyncio.gather(*pending, return_exceptions=True)
        done = result.get("progress_done")
        await self._record(
            job,
            status=JobStatus.SUCCEEDED,
            result=result,
            finished_at=utcnow(),
            progress_done=done if isinstance(done, int) else job.progress_done,
            progress_total=done if isinstance(done, int) else job.progress_total,
            message=result.get("message"),
        )

    async def _record(self, job: Job, **values: Any) -> None:
        """Record the job's outcome, unless it was reclaimed while it ran."""
        if not await self._update(job, **values):
            log.warning(
                "job %s (%s) was reclaimed while it ran here; this run ended %s, not recorded",
                job.id,
                job.kind,
                values.get("status"),
            )

    async def _update(self, job: Job, **values: Any) -> bool:
        async with self.sessions() as session:
            updated = await JobRepository(session).update_run(job.id, job.attempts, **values)
            await session.commit()
        return updated
