"""A synthetic retailer loaded the way a retailer loads theirs: over HTTP, file by file."""

from __future__ import annotations

from pathlib import Path

from endcap.client import EndcapClient
from endcap.ingest.contract import LOAD_ORDER
from endcap.jobs.schemas import JobPublic
from endcap.synthetic import generate


def load_over_http(admin: EndcapClient, folder: Path, profiles: int, seed: int) -> None:
    """Write a retailer of ``profiles`` shoppers to ``folder``, upload each file in load
    order, and refresh the traits; every job must succeed."""
    summary = generate(folder, profiles, seed=seed)
    for entity in LOAD_ORDER:
        done = admin.wait(admin.upload(entity, Path(summary.paths[entity])).id, timeout=300)
        assert done.status == "succeeded", done.error
    job = JobPublic.model_validate(admin.request("POST", "/api/v1/traits/refresh").json())
    refreshed = admin.wait(job.id, timeout=300)
    assert refreshed.status == "succeeded", refreshed.error
