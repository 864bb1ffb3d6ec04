"""End to end: an `endcap worker` process killed with SIGKILL in the middle of a load; a
second worker process finds the job abandoned and loads the file, once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from endcap.db.engine import SessionFactory
from endcap.jobs.service import JobService
from tests.ingest.support import Db, write_csv
from tests.jobs.queue import read

PRODUCTS = 100_000  # a load of some seconds: long enough to be killed in the middle of


def start_worker(db: Db, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ENDCAP_DATABASE_URL": db.url,
        "ENDCAP_WORKER_LEASE_SECONDS": "1",
        "ENDCAP_WORKER_POLL_SECONDS": "0.1",
        "ENDCAP_LOG_FORMAT": "console",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "endcap", "worker"], env=env, stdout=out, stderr=out
        )


async def wait_for(sessions: SessionFactory, job_id: uuid.UUID, *statuses: str) -> Any:
    deadline = time.monotonic() + 60
    while (job := await read(sessions, job_id)).status not in statuses:
        assert time.monotonic() < deadline, f"job still {job.status}"
        await asyncio.sleep(0.02)
    return job


async def test_a_second_worker_recovers_the_job_of_a_killed_one(db: Db, tmp_path: Path) -> None:
    rows = [(f"SKU{i}", f"Product {i}", "Brand", "Maker", "Category") for i in range(PRODUCTS)]
    path = write_csv(
        tmp_path / "products.csv", ("sku", "name", "brand", "manufacturer", "category"), rows
    )
    async with db.sessions() as session:
        queued = await JobService(session).enqueue(
            "ingest", {"entity": "products", "path": str(path), "source_name": path.name}, None
        )
        await session.commit()
    log = tmp_path / "workers.log"

    first = start_worker(db, log)
    try:
        await wait_for(db.sessions, queued.id, "running")
        await asyncio.sleep(0.3)  # into the load
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    killed = await read(db.sessions, queued.id)
    assert (killed.status, killed.attempts) == ("running", 1), "the load ended before the kill"
    assert await db.count("products") == 0

    second = start_worker(db, log)
    try:
        done = await wait_for(db.sessions, queued.id, "succeeded", "failed")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    assert (done.status, done.attempts, done.error) == ("succeeded", 2, None)
    assert done.result["report"]["rows_inserted"] == PRODUCTS
    assert await db.count("products") == PRODUCTS
    assert await db.count("ingest_runs") == 1
    assert "was abandoned" in log.read_text()
    assert not path.exists()
