"""Audience calls the HTTP tests repeat: create, and refresh through the job queue."""

from __future__ import annotations

import uuid
from typing import Any

from endcap.audiences.schemas import AudiencePublic
from endcap.client import EndcapClient
from endcap.jobs.schemas import JobPublic

# What a brand's catalog entry holds, and nothing more: no rule, spec, report or members.
CATALOG_KEYS = {
    "id",
    "name",
    "description",
    "kind",
    "price",
    "size",
    "size_band",
    "channels",
    "categories",
}


def create(admin: EndcapClient, **body: Any) -> AudiencePublic:
    body = {"name": f"aud {uuid.uuid4().hex[:8]}", "description": "test", **body}
    response = admin.request("POST", "/api/v1/audiences", json=body)
    assert response.status_code == 201
    return AudiencePublic.model_validate(response.json())


def create_rule(
    admin: EndcapClient, rule: dict[str, Any], name: str | None = None
) -> AudiencePublic:
    return create(admin, rule=rule, **({"name": name} if name else {}))


def refresh(admin: EndcapClient, audience_id: uuid.UUID) -> AudiencePublic:
    job = JobPublic.model_validate(
        admin.request("POST", f"/api/v1/audiences/{audience_id}/refresh").json()
    )
    done = admin.wait(job.id, timeout=300)
    assert done.status == "succeeded", done.error
    # Fitted (or nothing to fit), members stored, reach counted, checked and current.
    assert (done.progress_done, done.progress_total) == (4, 4)
    return AudiencePublic.model_validate(
        admin.request("GET", f"/api/v1/audiences/{audience_id}").json()
    )
