"""`endcap worker`: run queued jobs in their own process."""

from __future__ import annotations

import asyncio
import signal
import threading

import click

from endcap.config import get_settings
from endcap.jobs.runner import load_handlers, run_worker
from endcap.observability.logs import configure_logging


@click.command(name="worker")
def worker_command() -> None:
    """Run queued jobs until stopped (then set ENDCAP_WORKER_IN_PROCESS=false on the API)."""
    settings = get_settings()
    configure_logging(settings.log)
    load_handlers()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    asyncio.run(run_worker(settings, stop))
