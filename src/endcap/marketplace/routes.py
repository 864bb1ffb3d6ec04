"""The marketplace API: rate cards and capacity, forecasts, campaigns, and approvals."""

from __future__ import annotations

import uuid
from datetime import date

from litestar import Controller, Response, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.concurrency import IfMatch, parse_if_match, tagged
from endcap.config import Settings
from endcap.db.reads_only import READS_ONLY
from endcap.idempotency import IDEMPOTENT
from endcap.marketplace.approvals import ApprovalService
from endcap.marketplace.channels import ChannelService
from endcap.marketplace.forecast import Quoting
from endcap.marketplace.lifecycle import parse_action
from endcap.marketplace.models import CampaignStatus
from endcap.marketplace.quote_changes import quote_cache_of
from endcap.marketplace.schemas import (
    ApprovalItem,
    CampaignCreate,
    CampaignEventPublic,
    CampaignPublic,
    CampaignUpdate,
    ChannelSettingsIn,
    ChannelSettingsPublic,
    ChannelWeekPublic,
    Forecast,
    ForecastRequest,
    RateCard,
    Transition,
)
from endcap.marketplace.service import CampaignService
from endcap.pagination import DEFAULT_PAGE_SIZE, Limit, Page, PageRequest
from endcap.privacy.channels import Channel


def provide_channels(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> ChannelService:
    return ChannelService(session, settings.marketplace.currency)


def provide_quoting(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings], state: State
) -> Quoting:
    return Quoting(session, settings.privacy_gate, settings.marketplace, quote_cache_of(state))


def provide_campaigns(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings], state: State
) -> CampaignService:
    return CampaignService(session, settings, quote_cache_of(state))


def provide_approvals(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> ApprovalService:
    return ApprovalService(session, settings)


class ChannelController(Controller):
    path = "/channels"
    tags = ["marketplace"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"channels": Provide(provide_channels, sync_to_thread=False)}

    @get("/", summary="Every channel's rate card, capacity and delivery endpoint")
    async def list_channels(
        self, channels: NamedDependency[ChannelService]
    ) -> list[ChannelSettingsPublic]:
        return await channels.settings()

    @put("/{channel:str}", summary="Set a channel's rate card, weekly capacity and endpoint")
    async def configure(
        self,
        channel: FromPath[Channel],
        data: JSONBody[ChannelSettingsIn],
        channels: NamedDependency[ChannelService],
    ) -> ChannelSettingsPublic:
        return await channels.configure(channel, data)

    @get("/{channel:str}/capacity", summary="Capacity and bookings per ISO week")
    async def capacity(
        self,
        channel: FromPath[Channel],
        channels: NamedDependency[ChannelService],
        first: FromQuery[date | None] = None,
        last: FromQuery[date | None] = None,
    ) -> list[ChannelWeekPublic]:
        return await channels.weeks(channel, first, last)


class RateCardController(Controller):
    path = "/rate-cards"
    tags = ["marketplace"]
    opt = roles(*Role)
    dependencies = {"channels": Provide(provide_channels, sync_to_thread=False)}

    @get("/", summary="What each channel costs per thousand impressions")
    async def rate_cards(self, channels: NamedDependency[ChannelService]) -> list[RateCard]:
        return await channels.rate_cards()


class ForecastController(Controller):
    path = "/forecasts"
    tags = ["marketplace"]
    opt = roles(Role.RETAILER_ADMIN, Role.BRAND)
    dependencies = {"quoting": Provide(provide_quoting, sync_to_thread=False)}

    # Reads only: its queries run outside a transaction (endcap.db.reads_only).
    @post(
        "/",
        status_code=200,
        summary="Reach, impressions and cost before booking",
        opt={READS_ONLY: True},
    )
    async def forecast(
        self,
        data: JSONBody[ForecastRequest],
        quoting: NamedDependency[Quoting],
        principal: NamedDependency[Principal],
    ) -> Forecast:
        return await quoting.forecast(
            data, brand=principal.partner_id if principal.is_brand else None
        )


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]
    opt = roles(Role.RETAILER_ADMIN, Role.BRAND)
    dependencies = {"campaigns": Provide(provide_campaigns, sync_to_thread=False)}

    @post("/", summary="Draft a campaign (validated as it is written)", opt=IDEMPOTENT)
    async def create(
        self,
        data: JSONBody[CampaignCreate],
        campaigns: NamedDependency[CampaignService],
        principal: NamedDependency[Principal],
    ) -> Response[CampaignPublic]:
        return tagged(await campaigns.create(principal, data), 201)

    @get("/", summary="Campaigns (a brand sees its own only)")
    async def list_campaigns(
        self,
        campaigns: NamedDependency[CampaignService],
        principal: NamedDependency[Principal],
        status: FromQuery[CampaignStatus | None] = None,
        partner_id: FromQuery[uuid.UUID | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[CampaignPublic]:
        page = PageRequest.parse(limit, cursor)
        return await campaigns.list(principal, page, status=status, partner_id=partner_id)

    @get("/{campaign_id:uuid}", summary="One campaign")
    async def read(
        self,
        campaign_id: FromPath[uuid.UUID],
        campaigns: NamedDependency[CampaignService],
        principal: NamedDependency[Principal],
    ) -> Response[CampaignPublic]:
        return tagged(await campaigns.get(principal, campaign_id))

    @patch("/{campaign_id:uuid}", summary="Change a draft; needs If-Match")
    async def update(
        self,
        campaign_id: FromPath[uuid.UUID],
        data: JSONBody[CampaignUpdate],
        campaigns: NamedDependency[CampaignService],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> Response[CampaignPublic]:
        changed = await campaigns.update(principal, campaign_id, data, parse_if_match(if_match))
        return tagged(changed)

    @post(
        "/{campaign_id:uuid}/book",
        status_code=200,
        summary="Book: pin the audience version, price it, take capacity, submit for approval",
        opt=IDEMPOTENT,
    )
    async def book(
        self,
        campaign_id: FromPath[uuid.UUID],
        campaigns: NamedDependency[CampaignService],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> Response[CampaignPublic]:
        return tagged(await campaigns.book(principal, campaign_id, parse_if_match(if_match)))

    @post(
        "/{campaign_id:uuid}/actions/{action:str}",
        status_code=200,
        summary="approve, reject (with a reason), schedule, start, pause, resume, complete, cancel",
    )
    async def act(
        self,
        campaign_id: FromPath[uuid.UUID],
        action: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        principal: NamedDependency[Principal],
        data: JSONBody[Transition | None] = None,
        if_match: IfMatch = None,
    ) -> Response[CampaignPublic]:
        reason, revision = (data.reason if data else None), parse_if_match(if_match)
        moved = await campaigns.transition(
            principal, campaign_id, parse_action(action), reason=reason, if_match=revision
        )
        return tagged(moved)

    @get("/{campaign_id:uuid}/events", summary="The audit trail: every move, by whom and when")
    async def events(
        self,
        campaign_id: FromPath[uuid.UUID],
        campaigns: NamedDependency[CampaignService],
        principal: NamedDependency[Principal],
    ) -> list[CampaignEventPublic]:
        return await campaigns.events(principal, campaign_id)


class ApprovalController(Controller):
    path = "/approvals"
    tags = ["campaigns"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"approvals": Provide(provide_approvals, sync_to_thread=False)}

    @get("/", summary="Booked campaigns waiting for approval, with their checks")
    async def queue(
        self,
        approvals: NamedDependency[ApprovalService],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[ApprovalItem]:
        return await approvals.queue(PageRequest.parse(limit, cursor))

    @get("/{campaign_id:uuid}", summary="One campaign's approval checks")
    async def item(
        self, campaign_id: FromPath[uuid.UUID], approvals: NamedDependency[ApprovalService]
    ) -> ApprovalItem:
        return await approvals.item(campaign_id)
