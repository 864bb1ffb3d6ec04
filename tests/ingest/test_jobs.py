"""The "ingest" job run again after its worker died: it never loads a file twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from endcap.ingest.jobs import run_ingest
from endcap.jobs.models import Job
from endcap.jobs.worker import JobRejectedError
from tests.ingest.support import PRODUCTS_CSV, Db, make_settings, write


def load_job(path: Path, entity: str = "products") -> Job:
    return Job(
        kind="ingest", params={"path": str(path), "entity": entity, "source_name": path.name}
    )


async def test_a_rerun_after_the_load_committed_returns_its_report(db: Db, tmp_path: Path) -> None:
    settings = make_settings()
    settings.database = db.settings
    job = load_job(write(tmp_path / "products.csv", PRODUCTS_CSV))

    first = await run_ingest(db.sessions, settings, job, lambda _d, _t: None)
    # The worker died before recording the outcome; the spooled file is gone already.
    again = await run_ingest(db.sessions, settings, job, lambda _d, _t: None)

    assert first["report"]["rows_inserted"] == 3
    assert again == first
    assert await db.count("ingest_runs") == 1
    assert await db.count("products") == 3


async def test_a_rerun_of_a_rejected_load_is_rejected_again(db: Db, tmp_path: Path) -> None:
    settings = make_settings()
    settings.database = db.settings
    job = load_job(write(tmp_path / "products.csv", "sku,name\nSKU1,Oat milk\n"))

    with pytest.raises(JobRejectedError) as first:
        await run_ingest(db.sessions, settings, job, lambda _d, _t: None)
    with pytest.raises(JobRejectedError) as again:
        await run_ingest(db.sessions, settings, job, lambda _d, _t: None)

    assert again.value.result == first.value.result
    assert again.value.detail == "1 rejected row(s); nothing was applied"
    assert await db.count("ingest_runs") == 1
