"""The retailer's calls: API keys, partners, its data (uploads, profiles, consents,
erasure) and audiences."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from endcap.audiences.schemas import AudiencePublic
from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreated, ApiKeyPublic
from endcap.client.transport import Transport, jsonable, request_headers
from endcap.consent.schemas import ConsentEventPublic, ConsentState
from endcap.identity.schemas import LookupResult, ProfileView
from endcap.ingest.schemas import IngestReport
from endcap.jobs.schemas import JobPublic
from endcap.pagination import Page
from endcap.partners.models import PartnerKind
from endcap.partners.schemas import PartnerPublic
from endcap.privacy.schemas import Tombstone


class RetailerCalls(Transport):
    """What the retailer does: keys, partners, its data and its audiences."""

    # -- API keys (retailer admin) ------------------------------------------------------------

    def create_key(
        self, name: str, role: Role, partner_id: uuid.UUID | None = None
    ) -> ApiKeyCreated:
        body = {
            "name": name,
            "role": role.value,
            "partner_id": str(partner_id) if partner_id else None,
        }
        return self._post("/api/v1/keys", ApiKeyCreated, body)

    def list_keys(
        self, *, cursor: str | None = None, limit: int | None = None, role: Role | None = None
    ) -> Page[ApiKeyPublic]:
        return self._get(
            "/api/v1/keys",
            Page[ApiKeyPublic],
            cursor=cursor,
            limit=limit,
            role=role.value if role else None,
        )

    def get_key(self, key_id: uuid.UUID) -> ApiKeyPublic:
        return self._get(f"/api/v1/keys/{key_id}", ApiKeyPublic)

    def revoke_key(self, key_id: uuid.UUID) -> ApiKeyPublic:
        return self._post(f"/api/v1/keys/{key_id}/revoke", ApiKeyPublic)

    # -- partners -----------------------------------------------------------------------------

    def create_partner(
        self, name: str, kind: PartnerKind = PartnerKind.MANUFACTURER
    ) -> PartnerPublic:
        return self._post("/api/v1/partners", PartnerPublic, {"name": name, "kind": kind.value})

    def get_partner(self, partner_id: uuid.UUID) -> PartnerPublic:
        return self._get(f"/api/v1/partners/{partner_id}", PartnerPublic)

    def list_partners(
        self, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[PartnerPublic]:
        return self._get("/api/v1/partners", Page[PartnerPublic], cursor=cursor, limit=limit)

    def iter_partners(self, *, limit: int | None = None) -> Iterator[PartnerPublic]:
        """Every partner visible to this key, following cursors page by page."""
        cursor: str | None = None
        while True:
            page = self.list_partners(cursor=cursor, limit=limit)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # -- the retailer's data (retailer admin) ------------------------------------------------

    def upload(self, entity: str, path: Path, *, idempotency_key: str | None = None) -> JobPublic:
        """Upload one data-contract file; it loads as a job (poll it with :meth:`wait`). A
        retry of the same file with the same ``idempotency_key`` answers the first job."""
        with path.open("rb") as handle:
            response = self.request(
                "POST",
                f"/api/v1/ingest/{entity}",
                files={"data": (path.name, handle)},
                headers=request_headers(idempotency_key=idempotency_key),
            )
        return JobPublic.model_validate(response.json())

    def job(self, job_id: uuid.UUID) -> JobPublic:
        return self._get(f"/api/v1/jobs/{job_id}", JobPublic)

    def wait(self, job_id: uuid.UUID, *, timeout: float = 120.0, poll: float = 0.2) -> JobPublic:
        """Poll a job until it has succeeded or failed (TimeoutError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job.status in ("succeeded", "failed"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout}s")
            time.sleep(poll)

    def ingest_run(self, run_id: uuid.UUID) -> IngestReport:
        return self._get(f"/api/v1/ingest/runs/{run_id}", IngestReport)

    def lookup(self, id_type: str, value: str) -> LookupResult:
        return self._post(
            "/api/v1/profiles/lookup", LookupResult, {"id_type": id_type, "value": value}
        )

    def profile(self, profile_id: int) -> ProfileView:
        return self._get(f"/api/v1/profiles/{profile_id}", ProfileView)

    def consents(self, profile_id: int) -> ConsentState:
        return self._get(f"/api/v1/profiles/{profile_id}/consents", ConsentState)

    def record_consent(
        self, customer_id: str, purpose: str, status: str, **extra: Any
    ) -> ConsentEventPublic:
        body = {"customer_id": customer_id, "purpose": purpose, "status": status, **extra}
        return self._post("/api/v1/consents", ConsentEventPublic, body)

    def erase(self, *, idempotency_key: str | None = None, **request: str) -> Tombstone:
        """Erase a shopper: ``customer_id=...`` or ``id_type=..., value=...``. A retry with
        the same ``idempotency_key`` answers the first tombstone."""
        headers = request_headers(idempotency_key=idempotency_key)
        return self._post("/api/v1/erasures", Tombstone, dict(request), headers)

    # -- audiences (retailer admin) ---------------------------------------------------------
    # ``revision`` is the one last read (``AudiencePublic.revision``): a stale one raises a
    # 412 and changes nothing; publish, refresh and delete go ahead without one.

    def create_audience(self, *, idempotency_key: str | None = None, **body: Any) -> AudiencePublic:
        """``name`` and one of ``rule``, ``propensity`` or ``lookalike``; a draft."""
        headers = request_headers(idempotency_key=idempotency_key)
        return self._post("/api/v1/audiences", AudiencePublic, jsonable(body), headers)

    def audience(self, audience_id: uuid.UUID) -> AudiencePublic:
        return self._get(f"/api/v1/audiences/{audience_id}", AudiencePublic)

    def update_audience(
        self, audience_id: uuid.UUID, revision: int, **changes: Any
    ) -> AudiencePublic:
        response = self.request(
            "PATCH",
            f"/api/v1/audiences/{audience_id}",
            json=jsonable(changes),
            headers=request_headers(revision=revision),
        )
        return AudiencePublic.model_validate(response.json())

    def refresh_audience(
        self,
        audience_id: uuid.UUID,
        *,
        revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        """Queue a refresh (poll it with :meth:`wait`; the result holds the audience at its
        new revision). It fails if the rule is changed before it runs."""
        headers = request_headers(revision=revision, idempotency_key=idempotency_key)
        return self._post(f"/api/v1/audiences/{audience_id}/refresh", JobPublic, None, headers)

    def publish_audience(
        self, audience_id: uuid.UUID, *, revision: int | None = None
    ) -> AudiencePublic:
        path = f"/api/v1/audiences/{audience_id}/publish"
        return self._post(path, AudiencePublic, None, request_headers(revision=revision))

    def delete_audience(
        self, audience_id: uuid.UUID, *, revision: int | None = None
    ) -> AudiencePublic:
        response = self.request(
            "DELETE", f"/api/v1/audiences/{audience_id}", headers=request_headers(revision=revision)
        )
        return AudiencePublic.model_validate(response.json())
