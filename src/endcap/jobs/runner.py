"""Running the worker: inside the API process (the demo, small installs) or on its own.

Inside the API process the worker gets a thread, an event loop and an engine of
its own: jobs are CPU-heavy (validating files, fitting models, clustering), and
on the API's event loop they would stall every request while they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
from collections.abc import AsyncIterator

from endcap.config import Settings
from endcap.db.engine import create_engine, create_session_factory
from endcap.jobs.worker import Worker

log = logging.getLogger("endcap.worker")

# Job kinds register their handlers, and modules their chores (jobs/chores.py), on import.
JOB_MODULES = (
    "endcap.ingest.jobs",
    "endcap.traits.jobs",
    "endcap.audiences.jobs",
    "endcap.activation.jobs",
    "endcap.idempotency.retention",
)
STOP_CHECK_SECONDS = 0.2
JOIN_SECONDS = 30.0  # a job still running then is abandoned: rolled back, reclaimed later


def load_handlers() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)


async def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Run jobs with an engine of this loop's own until ``stop`` is set."""
    engine = create_engine(settings.database, jit=True)
    stopping = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():  # noqa: ASYNC110  (a threading.Event, set from another thread)
            await asyncio.sleep(STOP_CHECK_SECONDS)
        stopping.set()

    watcher = asyncio.create_task(watch())
    try:
        await Worker(create_session_factory(engine), settings).run(stopping)
    finally:
        watcher.cancel()
        await engine.dispose()


@contextlib.asynccontextmanager
async def run_in_process(settings: Settings) -> AsyncIterator[None]:
    """While the app runs, a worker thread runs queued jobs (ENDCAP_WORKER_IN_PROCESS)."""
    if not settings.worker.in_process:
        yield
        return
    load_handlers()
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(run_worker(settings, stop)), name="endcap-worker", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, JOIN_SECONDS)
        if thread.is_alive():
            log.warning("the worker did not stop within %s s; its job is abandoned", JOIN_SECONDS)
