"""The marketplace's calls: the product catalog, the audience catalog, channels, forecasts,
campaigns, approvals and activations."""

from __future__ import annotations

import uuid
from typing import Any

from endcap.activation.schemas import ActivationPublic
from endcap.audiences.schemas import CatalogEntry, Overlap
from endcap.catalog.schemas import CategoryNode, ProductPage, StorePublic
from endcap.client.transport import Transport, jsonable
from endcap.marketplace.schemas import (
    ApprovalItem,
    CampaignEventPublic,
    CampaignPublic,
    ChannelSettingsPublic,
    ChannelWeekPublic,
    Forecast,
    RateCard,
)
from endcap.pagination import MAX_PAGE_SIZE, Page
from endcap.partners.schemas import PartnerBrand


class MarketplaceCalls(Transport):
    """Calls about the marketplace: what brands do, and the retailer's side of it."""

    # -- catalog (every role) ---------------------------------------------------------------

    def products(self, **filters: Any) -> ProductPage:
        return self._get("/api/v1/catalog/products", ProductPage, **filters)

    def stores(self, **page: Any) -> Page[StorePublic]:
        """One page of stores, by store id: ``cursor=``, ``limit=``."""
        return self._get("/api/v1/catalog/stores", Page[StorePublic], **page)

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
        """Every published audience: ``channel=``, ``size_band=``, ``category=`` (rounded
        numbers only), following the cursors page by page."""
        entries: list[CatalogEntry] = []
        cursor: str | None = None
        while True:
            page = self.audience_catalog_page(**filters, cursor=cursor, limit=MAX_PAGE_SIZE)
            entries.extend(page.items)
            if page.next_cursor is None:
                return entries
            cursor = page.next_cursor

    def audience_catalog_page(self, **filters: Any) -> Page[CatalogEntry]:
        """One page of the catalog: the filters, ``cursor=``, ``limit=``."""
        return self._get("/api/v1/catalog/audiences", Page[CatalogEntry], **filters)

    def catalog_audience(self, audience_id: uuid.UUID) -> CatalogEntry:
        """One published audience as the catalog lists it."""
        return self._get(f"/api/v1/catalog/audiences/{audience_id}", CatalogEntry)

    def audience_overlap(self, first: uuid.UUID, second: uuid.UUID) -> Overlap:
        """Shoppers in both published audiences, rounded; ``overlap`` is None when it is
        below the minimum or withheld (``label`` says which)."""
        return self._get(f"/api/v1/catalog/audiences/{first}/overlap/{second}", Overlap)

    def rate_cards(self) -> list[RateCard]:
        return self._list("/api/v1/rate-cards", RateCard)

    def channels(self) -> list[ChannelSettingsPublic]:
        """Retailer admin: every configured channel, with the weeks booked past capacity."""
        return self._list("/api/v1/channels", ChannelSettingsPublic)

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
        return self._post("/api/v1/forecasts", Forecast, jsonable(request))

    def create_campaign(self, *, idempotency_key: str | None = None, **body: Any) -> CampaignPublic:
        """Draft a campaign on ``audience_ids`` (a list; or ``audience_id`` for one). A retry
        with the same ``idempotency_key`` returns the same draft."""
        key = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._post("/api/v1/campaigns", CampaignPublic, jsonable(body), key)

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
            json=jsonable(changes),
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
        """A campaign's exports per channel (a brand sees its own: status, no counts)."""
        return self._get(f"/api/v1/campaigns/{campaign_id}/activations", Page[ActivationPublic])

    def activation(self, activation_id: uuid.UUID) -> ActivationPublic:
        return self._get(f"/api/v1/activations/{activation_id}", ActivationPublic)

    def activate(
        self, campaign_id: uuid.UUID, channels: list[str] | None = None
    ) -> list[ActivationPublic]:
        """Retailer admin: export the treatment group again (consent is re-read), to every
        channel of the campaign or to ``channels``."""
        response = self.request(
            "POST",
            f"/api/v1/campaigns/{campaign_id}/activations",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={"channels": channels} if channels is not None else None,
        )
        return [ActivationPublic.model_validate(a) for a in response.json()]
