"""Running the worker: inside the API process (the demo, small installs) or on its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.jobs.worker import Worker

# Job kinds register their handlers on import.
JOB_MODULES = ("endcap.ingest.jobs", "endcap.traits.jobs", "endcap.audiences.jobs")


def load_handlers() -> None:
    import importlib  # noqa: PLC0415

    for module in JOB_MODULES:
        importlib.import_module(module)


@contextlib.asynccontextmanager
async def run_in_process(sessions: SessionFactory, settings: Settings) -> AsyncIterator[None]:
    """While the app runs, a worker task runs queued jobs (ENDCAP_WORKER_IN_PROCESS)."""
    if not settings.worker.in_process:
        yield
        return
    load_handlers()
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(sessions, settings).run(stop), name="endcap-worker")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
