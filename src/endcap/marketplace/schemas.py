"""Wire shapes for rate cards, forecasts, campaigns and the approval queue.

Money is a decimal string with its currency; reach is always a rounded number
derived from what the brand saw in the catalog, never an exact count.

A campaign or forecast names its audiences as ``audience_ids`` (a list); the
older ``audience_id`` (one audience) is still read. Which of the two was sent,
and that no id repeats, is checked by the marketplace service, so that the 422
points at the field (``/audience_ids/1``) rather than at the whole body.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from endcap.json_types import JSON_INTEGER, null_refused_but
from endcap.marketplace.models import CampaignStatus
from endcap.money import Currency, Money, RateCpm, Share
from endcap.names import DisplayName, ShownText
from endcap.privacy.channels import Channel

AttributionDays = Annotated[int, JSON_INTEGER, Field(ge=1, le=30)]
FrequencyCap = Annotated[
    int, JSON_INTEGER, Field(ge=1, le=100, description="contacts per shopper per week")
]
Channels = Annotated[list[Channel], Field(min_length=1, max_length=len(Channel))]
# Each more audience adds pairwise overlaps to a forecast (n(n-1)/2 of them) and to the
# error of its union estimate for three or more (marketplace/reach.py); ten covers the
# combinations brands build without turning a forecast into a member-list query.
MAX_AUDIENCES = 10
AudienceIds = Annotated[
    list[uuid.UUID],
    Field(
        min_length=1,
        max_length=MAX_AUDIENCES,
        description="the audiences to target: their shoppers' union, each person once",
    ),
]
OneAudience = Annotated[
    uuid.UUID | None,
    Field(description="one audience, as audience_ids with one id (older clients); not both"),
]


class ChannelSettingsIn(BaseModel):
    """The retailer's settings for one channel."""

    model_config = ConfigDict(extra="forbid")

    cpm: RateCpm
    currency: Currency
    weekly_capacity: Annotated[int, JSON_INTEGER] = Field(
        ge=0, le=10**12, description="impressions per ISO week"
    )
    max_per_profile_week: Annotated[int, JSON_INTEGER] = Field(
        ge=1, le=100, description="contacts per shopper per week, all campaigns together"
    )
    endpoint_url: AnyHttpUrl | None = Field(default=None, max_length=500)  # its column's width


class RateCard(BaseModel):
    """What a brand sees of a channel: its price and contact-pressure limit."""

    channel: Channel
    cpm: Decimal
    currency: str
    max_per_profile_week: int


class ChannelWeekPublic(BaseModel):
    week_start: date
    capacity: int
    booked: int
    left: int


class ChannelSettingsPublic(RateCard):
    weekly_capacity: int
    endpoint_url: str | None
    updated_at: datetime
    oversold_weeks: list[ChannelWeekPublic] = Field(
        default_factory=list,
        description="weeks from this one on that hold more bookings than their capacity "
        "(it was lowered after they were booked); their submitted campaigns fail the "
        "approval's capacity check until capacity is raised or bookings are cancelled",
    )


class ForecastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audience_ids: AudienceIds | None = None
    audience_id: OneAudience = None
    channels: Channels
    starts_on: date
    ends_on: date
    frequency_cap: FrequencyCap = 1
    holdout_share: Share | None = None
    budget: Money | None = None
    currency: Currency | None = None


class AudiencePin(BaseModel):
    """One audience of a forecast or campaign and its membership version."""

    id: uuid.UUID
    version: int | None = Field(
        description="the version bought (a campaign's is pinned when booked; a forecast "
        "names the one a booking now would pin)"
    )


class ForecastLine(BaseModel):
    channel: Channel
    reach: int = Field(
        description="consenting shoppers of the audiences' union, rounded and derived from "
        "catalog numbers only"
    )
    treatment_reach: int = Field(description="reach outside the holdout")
    impressions: int
    cpm: Decimal
    cost: Decimal
    capacity_left: int = Field(description="the least any week of the flight has left")
    fits: bool


class Forecast(BaseModel):
    audience_ids: list[uuid.UUID]
    audiences: list[AudiencePin]
    starts_on: date
    ends_on: date
    weeks: Decimal
    frequency_cap: int
    holdout_share: Decimal
    currency: str
    lines: list[ForecastLine]
    impressions: int
    cost: Decimal
    budget_limited: bool = Field(description="impressions were cut to fit the budget")


class Creative(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headline: DisplayName
    landing_url: AnyHttpUrl | None = None


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DisplayName
    partner_id: uuid.UUID | None = Field(
        default=None, description="only the retailer sets it; a brand books for itself"
    )
    audience_ids: AudienceIds | None = None
    audience_id: OneAudience = None
    skus: list[str] = Field(min_length=1, max_length=500, description="promoted products")
    channels: Channels
    starts_on: date
    ends_on: date
    budget: Money
    currency: Currency
    frequency_cap: FrequencyCap = 1
    holdout_share: Share | None = None
    post_click_days: AttributionDays = 14
    post_view_days: AttributionDays = 1
    creative: Creative | None = None


class CampaignUpdate(BaseModel):
    """A draft's fields; anything left out keeps its value (null clears only the creative)."""

    model_config = ConfigDict(extra="forbid")

    _not_null = null_refused_but("creative")

    name: DisplayName | None = None
    audience_ids: AudienceIds | None = None
    audience_id: OneAudience = None
    skus: list[str] | None = Field(default=None, min_length=1, max_length=500)
    channels: Channels | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    budget: Money | None = None
    currency: Currency | None = None
    frequency_cap: FrequencyCap | None = None
    holdout_share: Share | None = None
    post_click_days: AttributionDays | None = None
    post_view_days: AttributionDays | None = None
    creative: Creative | None = None


class CampaignLinePublic(BaseModel):
    channel: Channel
    reach: int
    impressions: int
    cpm: Decimal
    cost: Decimal


class CampaignPublic(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    name: str
    audience_ids: list[uuid.UUID]
    audiences: list[AudiencePin]
    skus: list[str]
    channels: list[Channel]
    creative: Creative | None
    starts_on: date
    ends_on: date
    budget: Decimal
    currency: str
    frequency_cap: int
    holdout_share: Decimal
    post_click_days: int
    post_view_days: int
    status: CampaignStatus
    reject_reason: str | None
    booked_impressions: int | None
    booked_cost: Decimal | None
    lines: list[CampaignLinePublic] = []
    revision: int
    created_at: datetime
    updated_at: datetime


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ShownText | None = Field(default=None, max_length=2000)


class CampaignEventPublic(BaseModel):
    action: str
    from_status: CampaignStatus | None
    to_status: CampaignStatus
    actor_key_id: uuid.UUID | None
    actor_role: str
    reason: str | None
    at: datetime


class Check(BaseModel):
    name: str
    passed: bool
    detail: str
    audience_id: uuid.UUID | None = Field(
        default=None, description="the audience an audience check is about (one check each)"
    )


class ApprovalItem(BaseModel):
    """A booked campaign waiting for the retailer, with what the approver should look at."""

    campaign: CampaignPublic
    checks: list[Check]
    ready: bool
