"""`endcap worker`: run queued jobs in their own process."""

from __future__ import annotations

import asyncio
import signal

import click

from endcap.config import get_settings
from endcap.db.engine import create_engine, create_session_factory
from endcap.jobs.runner import load_handlers
from endcap.jobs.worker import Worker
from endcap.observability.logs import configure_logging


@click.command(name="worker")
def worker_command() -> None:
    """Run queued jobs until stopped (then set ENDCAP_WORKER_IN_PROCESS=false on the API)."""
    settings = get_settings()
    configure_logging(settings.log)
    load_handlers()

    async def main() -> None:
        engine = create_engine(settings.database)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await Worker(create_session_factory(engine), settings).run(stop)
        finally:
            await engine.dispose()

    asyncio.run(main())
