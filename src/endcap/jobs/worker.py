"""The worker: claims queued jobs one at a time and runs them.

A job's own work runs in its own transaction; progress is written in short
transactions beside it, so a client polling the job sees it move. A job that
raises is marked failed with the reason, and whatever it did is rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.errors import EndcapError
from endcap.jobs.models import Job, JobStatus
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


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return register


class Worker:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        # SQLite has a single writer: a job holding it would block its own progress
        # writes, so there progress is reported when the job ends.
        self.live_progress = not settings.database.is_sqlite

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs until ``stop`` is set, polling the queue when it is empty."""
        while not stop.is_set():
            try:
                ran = await self.run_one()
            except (
                Exception
            ):  # the loop must outlive any one failure (e.g. the database restarting)
                log.exception("worker loop error")
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.worker.poll_seconds)

    async def run_one(self) -> bool:
        """Claim and run one job; False when there was none."""
        async with self.sessions() as session:
            job = await JobRepository(session).claim_next()
            await session.commit()
        if job is None:
            return False
        handler = HANDLERS.get(job.kind)
        pending: list[asyncio.Task[None]] = []
        last = 0.0

        def progress(done: int, total: int | None) -> None:
            nonlocal last
            now = time.monotonic()
            if self.live_progress and now - last >= PROGRESS_EVERY_SECONDS:
                last = now
                pending.append(
                    asyncio.ensure_future(self._set(job, progress_done=done, progress_total=total))
                )

        try:
            if handler is None:
                raise EndcapError(f"no handler for job kind {job.kind!r}")
            result = await handler(self.sessions, self.settings, job, progress)
        except Exception as exc:  # noqa: BLE001  (a job's failure is its outcome, kept for the client)
            await asyncio.gather(*pending, return_exceptions=True)
            reason = exc.detail if isinstance(exc, EndcapError) else f"{type(exc).__name__}: {exc}"
            log.warning("job %s (%s) failed: %s", job.id, job.kind, reason)
            outcome = exc.result if isinstance(exc, JobRejectedError) else None
            await self._set(
                job, status=JobStatus.FAILED, error=reason, result=outcome, finished_at=utcnow()
            )
            return True
        await asyncio.gather(*pending, return_exceptions=True)
        done = result.get("progress_done")
        await self._set(
            job,
            status=JobStatus.SUCCEEDED,
            result=result,
            finished_at=utcnow(),
            progress_done=done if isinstance(done, int) else job.progress_done,
            progress_total=done if isinstance(done, int) else job.progress_total,
            message=result.get("message"),
        )
        return True

    async def _set(self, job: Job, **values: Any) -> None:
        async with self.sessions() as session:
            await JobRepository(session).set_fields(job.id, **values)
            await session.commit()
