"""The synthetic retailer the audience HTTP tests share (loading it is the slow part)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from endcap.client import EndcapClient
from endcap.ingest.contract import LOAD_ORDER
from endcap.jobs.schemas import JobPublic
from endcap.synthetic import generate
from tests.support.server import ServerProcess

PROFILES = 3000


@pytest.fixture(scope="package")
def retailer(
    server: ServerProcess, admin_key: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A 3,000-person retailer, loaded and with traits refreshed, shared by this package."""
    folder = tmp_path_factory.mktemp("audience-retailer")
    summary = generate(folder, PROFILES, seed=23)
    with EndcapClient(server.base_url, admin_key, timeout=120) as admin:
        for entity in LOAD_ORDER:
            done = admin.wait(admin.upload(entity, Path(summary.paths[entity])).id, timeout=300)
            assert done.status == "succeeded", done.error
        job = JobPublic.model_validate(admin.request("POST", "/api/v1/traits/refresh").json())
        assert admin.wait(job.id, timeout=300).status == "succeeded"
    return {"folder": folder}
