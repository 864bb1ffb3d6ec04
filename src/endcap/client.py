"""A typed Python client for the Endcap API (httpx).

    with EndcapClient("http://127.0.0.1:8000", api_key) as endcap:
        me = endcap.me()

Every non-2xx answer raises :class:`EndcapAPIError` carrying the problem
details the server sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from endcap.activation.schemas import ActivationPublic
from endcap.audiences.schemas import AudiencePublic, CatalogEntry, Overlap
from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreated, ApiKeyPublic, Me
from endcap.catalog.schemas import CategoryNode, ProductPage
from endcap.consent.schemas import ConsentEventPublic, ConsentState
from endcap.identity.schemas import LookupResult, ProfileView
from endcap.ingest.schemas import IngestReport
from endcap.jobs.schemas import JobPublic
from endcap.marketplace.schemas import (
    ApprovalItem,
    CampaignEventPublic,
    CampaignPublic,
    ChannelSettingsPublic,
    ChannelWeekPublic,
    Forecast,
    RateCard,
)
from endcap.pagination import Page
from endcap.partners.models import PartnerKind
from endcap.partners.schemas import PartnerBrand, PartnerPublic
from endcap.privacy.schemas import Tombstone

M = TypeVar("M", bound=BaseModel)


class EndcapAPIError(Exception):
    """An RFC 9457 problem answer: ``status``, ``type``, ``detail`` and the whole ``problem``."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", ""))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.type}: {self.detail}")


class EndcapClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> EndcapClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- raw access -------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request and return the response, raising EndcapAPIError on a problem answer."""
        response = self._http.request(method, path, **kwargs)
        if response.is_success:
            return response
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text}
        raise EndcapAPIError(response.status_code, problem if isinstance(problem, dict) else {})

    def _get(self, path: str, model: type[M], **params: Any) -> M:
        query = {k: str(v) for k, v in params.items() if v is not None}
        return model.model_validate(self.request("GET", path, params=query).json())

    def _post(
        self,
        path: str,
        model: type[M],
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> M:
        return model.model_validate(self.request("POST", path, json=body, headers=headers).json())

    def _list(self, path: str, model: type[M], **params: Any) -> list[M]:
        query = {k: str(v) for k, v in params.items() if v is not None}
        return [model.model_validate(x) for x in self.request("GET", path, params=query).json()]

    # -- health and identity ----------------------------------------------------------------

    def ready(self) -> bool:
        try:
            self.request("GET", "/health/ready")
        except EndcapAPIError:
            return False
        return True

    def me(self) -> Me:
        return self._get("/api/v1/me", Me)

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
                headers=_headers(idempotency_key=idempotency_key),
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
        headers = _headers(idempotency_key=idempotency_key)
        return self._post("/api/v1/erasures", Tombstone, dict(request), headers)

    # -- audiences (retailer admin) ---------------------------------------------------------
    # ``revision`` is the one last read (``AudiencePublic.revision``): a stale one raises a
    # 412 and changes nothing; publish, refresh and delete go ahead without one.

    def create_audience(self, *, idempotency_key: str | None = None, **body: Any) -> AudiencePublic:
        """``name`` and one of ``rule``, ``propensity`` or ``lookalike``; a draft."""
        headers = _headers(idempotency_key=idempotency_key)
        return self._post("/api/v1/audiences", AudiencePublic, _jsonable(body), headers)

    def audience(self, audience_id: uuid.UUID) -> AudiencePublic:
        return self._get(f"/api/v1/audiences/{audience_id}", AudiencePublic)

    def update_audience(
        self, audience_id: uuid.UUID, revision: int, **changes: Any
    ) -> AudiencePublic:
        response = self.request(
            "PATCH",
            f"/api/v1/audiences/{audience_id}",
            json=_jsonable(changes),
            headers=_headers(revision=revision),
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
        headers = _headers(revision=revision, idempotency_key=idempotency_key)
        return self._post(f"/api/v1/audiences/{audience_id}/refresh", JobPublic, None, headers)

    def publish_audience(
        self, audience_id: uuid.UUID, *, revision: int | None = None
    ) -> AudiencePublic:
        path = f"/api/v1/audiences/{audience_id}/publish"
        return self._post(path, AudiencePublic, None, _headers(revision=revision))

    def delete_audience(
        self, audience_id: uuid.UUID, *, revision: int | None = None
    ) -> AudiencePublic:
        response = self.request(
            "DELETE", f"/api/v1/audiences/{audience_id}", headers=_headers(revision=revision)
        )
        return AudiencePublic.model_validate(response.json())

    # -- catalog (every role) ---------------------------------------------------------------

    def products(self, **filters: Any) -> ProductPage:
        return self._get("/api/v1/catalog/products", ProductPage, **filters)

    def categories(self) -> list[CategoryNode]:
        return [
            CategoryNode.model_validate(c)
            for c in self.request("GET", "/api/v1/catalog/categories").json()
        ]

    def partner_brands(self, partner_id: uuid.UUID) -> list[PartnerBrand]:
        return self._list(f"/api/v1/partners/{partner_id}/brands", PartnerBrand)

    def link_manufacturer(self, partner_id: uuid.UUID, manufacturer: str) -> list[PartnerBrand]:
        """Retailer admin: let the partner promote (and report on) a manufacturer's brands."""
        response = self.request(
            "POST",
            f"/api/v1/partners/{partner_id}/manufacturers",
            json={"manufacturer": manufacturer},
        )
        return [PartnerBrand.model_validate(b) for b in response.json()]

    def link_brand(
        self, partner_id: uuid.UUID, brand: str, manufacturer: str | None = None
    ) -> list[PartnerBrand]:
        """Retailer admin: let the partner promote (and report on) one brand alone, not its
        manufacturer's others. Name the manufacturer when several make a brand of that name."""
        body = {"brand": brand}
        if manufacturer is not None:
            body["manufacturer"] = manufacturer
        response = self.request("POST", f"/api/v1/partners/{partner_id}/brands", json=body)
        return [PartnerBrand.model_validate(b) for b in response.json()]

    # -- the marketplace ----------------------------------------------------------------------

    def audience_catalog(self, **filters: Any) -> list[CatalogEntry]:
        """Published audiences: ``channel=``, ``size_band=`` (rounded numbers only)."""
        return self._list("/api/v1/catalog/audiences", CatalogEntry, **filters)

    def catalog_audience(self, audience_id: uuid.UUID) -> CatalogEntry:
        """One published audience as the catalog lists it."""
        return self._get(f"/api/v1/catalog/audiences/{audience_id}", CatalogEntry)

    def audience_overlap(self, first: uuid.UUID, second: uuid.UUID) -> Overlap:
        """Shoppers in both published audiences, rounded; ``overlap`` is None when it is
        below the minimum or withheld (``label`` says which)."""
        return self._get(f"/api/v1/catalog/audiences/{first}/overlap/{second}", Overlap)

    def rate_cards(self) -> list[RateCard]:
        return self._list("/api/v1/rate-cards", RateCard)

    def configure_channel(self, channel: str, **settings: Any) -> ChannelSettingsPublic:
        """Retailer admin: ``cpm``, ``currency``, ``weekly_capacity``, ``max_per_profile_week``,
        ``endpoint_url``."""
        body = {k: str(v) if k == "cpm" else v for k, v in settings.items()}
        response = self.request("PUT", f"/api/v1/channels/{channel}", json=body)
        return ChannelSettingsPublic.model_validate(response.json())

    def capacity(self, channel: str, **window: Any) -> list[ChannelWeekPublic]:
        """Retailer admin: weeks with capacity and bookings (``first=``, ``last=`` dates)."""
        return self._list(f"/api/v1/channels/{channel}/capacity", ChannelWeekPublic, **window)

    def forecast(self, **request: Any) -> Forecast:
        """``audience_ids`` (a list; or ``audience_id`` for one), ``channels``, ``starts_on``,
        ``ends_on``, ``frequency_cap`` and optionally ``holdout_share``, ``budget``,
        ``currency``. Reach is the audiences' union, each shopper once."""
        return self._post("/api/v1/forecasts", Forecast, _jsonable(request))

    def create_campaign(self, *, idempotency_key: str | None = None, **body: Any) -> CampaignPublic:
        """Draft a campaign on ``audience_ids`` (a list; or ``audience_id`` for one). A retry
        with the same ``idempotency_key`` returns the same draft."""
        key = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._post("/api/v1/campaigns", CampaignPublic, _jsonable(body), key)

    def campaign(self, campaign_id: uuid.UUID) -> CampaignPublic:
        return self._get(f"/api/v1/campaigns/{campaign_id}", CampaignPublic)

    def campaigns(self, **filters: Any) -> Page[CampaignPublic]:
        """One page: ``status=``, ``cursor=``, ``limit=`` (a brand sees its own only)."""
        return self._get("/api/v1/campaigns", Page[CampaignPublic], **filters)

    def update_campaign(
        self, campaign_id: uuid.UUID, revision: int, **changes: Any
    ) -> CampaignPublic:
        """Change a draft; ``revision`` is the one read (a stale one raises a 412).
        ``audience_ids=[...]`` replaces its audiences."""
        response = self.request(
            "PATCH",
            f"/api/v1/campaigns/{campaign_id}",
            json=_jsonable(changes),
            headers={"If-Match": f'"{revision}"'},
        )
        return CampaignPublic.model_validate(response.json())

    def book(self, campaign_id: uuid.UUID, *, idempotency_key: str | None = None) -> CampaignPublic:
        """Book a draft: capacity is taken and it goes to the retailer for approval."""
        key = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._post(f"/api/v1/campaigns/{campaign_id}/book", CampaignPublic, None, key)

    def act(self, campaign_id: uuid.UUID, action: str, reason: str | None = None) -> CampaignPublic:
        """approve, reject (with ``reason``), schedule, start, pause, resume, complete, cancel."""
        body = {"reason": reason} if reason else None
        path = f"/api/v1/campaigns/{campaign_id}/actions/{action}"
        return self._post(path, CampaignPublic, body)

    def campaign_events(self, campaign_id: uuid.UUID) -> list[CampaignEventPublic]:
        return self._list(f"/api/v1/campaigns/{campaign_id}/events", CampaignEventPublic)

    def approvals(self) -> Page[ApprovalItem]:
        return self._get("/api/v1/approvals", Page[ApprovalItem])

    def approval(self, campaign_id: uuid.UUID) -> ApprovalItem:
        return self._get(f"/api/v1/approvals/{campaign_id}", ApprovalItem)

    def activations(self, campaign_id: uuid.UUID) -> Page[ActivationPublic]:
        """A campaign's exports per channel (a brand sees its own, with rounded counts)."""
        return self._get(f"/api/v1/campaigns/{campaign_id}/activations", Page[ActivationPublic])

    def activation(self, activation_id: uuid.UUID) -> ActivationPublic:
        return self._get(f"/api/v1/activations/{activation_id}", ActivationPublic)

    def activate(self, campaign_id: uuid.UUID) -> list[ActivationPublic]:
        """Retailer admin: export the treatment group again (consent is re-read)."""
        response = self.request(
            "POST",
            f"/api/v1/campaigns/{campaign_id}/activations",
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return [ActivationPublic.model_validate(a) for a in response.json()]


def _headers(*, revision: int | None = None, idempotency_key: str | None = None) -> dict[str, str]:
    """If-Match for ``revision`` and Idempotency-Key, each only when given."""
    headers = {"If-Match": f'"{revision}"'} if revision is not None else {}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def _jsonable(body: dict[str, Any]) -> dict[str, Any]:
    """Dates, ids and decimals as the strings the API reads."""
    return json.loads(json.dumps(body, default=str))  # type: ignore[no-any-return]
