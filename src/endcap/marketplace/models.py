"""Marketplace tables: each channel's rate card and capacity, campaigns, and their audit trail.

Small tables (reference tables when distributed, infra/README.md), except that
nothing here is keyed by profile: a campaign names one or more audience
*versions* (``campaign_audiences``), and the holdout split is a keyed hash of
profile and campaign, recomputed from ``holdout_salt`` whenever it is needed
rather than stored per shopper.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, JsonDocument, UTCDateTime, utcnow


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # booked: capacity reserved, audience versions pinned
    APPROVED = "approved"  # holdout fixed
    REJECTED = "rejected"
    SCHEDULED = "scheduled"  # activation under way
    LIVE = "live"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ChannelSettings(SQLModel, table=True):
    """One delivery channel's rate card, contact-pressure limits and delivery endpoint."""

    __tablename__ = "channel_settings"

    channel: str = Field(sa_column=Column(String(32), primary_key=True))
    # Price per thousand impressions before the audience's own premium.
    cpm: Decimal = Field(sa_column=Column(Numeric(10, 2), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    # Impressions (sends, screen plays, coupons) the channel carries per ISO week, all brands.
    weekly_capacity: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Contact pressure: contacts per shopper per week, all campaigns together. No booking
    # may ask for more; exports leave out whom the sum would pass it (activation/pressure.py).
    max_per_profile_week: int = Field(sa_column=Column(Integer, nullable=False))
    # Where activations are pushed; none means the file drop.
    endpoint_url: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ChannelWeek(SQLModel, table=True):
    """What one ISO week of a channel can carry, and how much of it bookings hold."""

    __tablename__ = "channel_weeks"
    __table_args__ = (PrimaryKeyConstraint("channel", "week_start"),)

    channel: str = Field(sa_column=Column(String(32), nullable=False))
    week_start: date = Field(sa_column=Column(Date, nullable=False))  # a Monday
    capacity: int = Field(sa_column=Column(BigInteger, nullable=False))
    booked: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index(None, "partner_id", "created_at"),
        Index(None, "status", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    partner_id: uuid.UUID = Field(sa_column=Column(ForeignKey("partners.id"), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # Its audiences are rows of campaign_audiences (CampaignAudience), in the brand's order.
    channels: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    skus: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    creative: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonDocument, nullable=False)
    )
    starts_on: date = Field(sa_column=Column(Date, nullable=False))
    ends_on: date = Field(sa_column=Column(Date, nullable=False))
    budget: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    frequency_cap: int = Field(sa_column=Column(Integer, nullable=False))  # per shopper per week
    holdout_share: Decimal = Field(sa_column=Column(Numeric(4, 3), nullable=False))
    post_click_days: int = Field(sa_column=Column(Integer, nullable=False))
    post_view_days: int = Field(sa_column=Column(Integer, nullable=False))
    status: CampaignStatus = Field(
        default=CampaignStatus.DRAFT, sa_column=Column(String(16), nullable=False)
    )
    reject_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What the booking holds: impressions and cost over every channel.
    booked_impressions: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    booked_cost: Decimal | None = Field(
        default=None, sa_column=Column(Numeric(14, 2), nullable=True)
    )
    # The key of the holdout hash, drawn once at approval and never again.
    holdout_salt: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    treatment_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    holdout_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class CampaignAudience(SQLModel, table=True):
    """One audience a campaign targets, and the membership version it bought.

    A campaign reaches the union of its audiences' pinned versions: a shopper in two
    of them is one person (counted, contacted and split into holdout once).
    """

    __tablename__ = "campaign_audiences"
    __table_args__ = (
        PrimaryKeyConstraint("campaign_id", "position"),
        UniqueConstraint("campaign_id", "audience_id"),
    )

    campaign_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    position: int = Field(sa_column=Column(Integer, nullable=False))  # 0, 1, ... as listed
    audience_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("audiences.id"), nullable=False, index=True)
    )
    # The membership version bought; set when the campaign is booked, never changed after.
    audience_version: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class CampaignLine(SQLModel, table=True):
    """One channel of a booking: the reach it was priced on, impressions, rate and cost."""

    __tablename__ = "campaign_lines"
    __table_args__ = (PrimaryKeyConstraint("campaign_id", "channel"),)

    campaign_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    reach: int = Field(sa_column=Column(Integer, nullable=False))  # rounded, as the brand saw it
    impressions: int = Field(sa_column=Column(BigInteger, nullable=False))
    cpm: Decimal = Field(sa_column=Column(Numeric(10, 2), nullable=False))
    cost: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))


class CapacityReservation(SQLModel, table=True):
    """Impressions a booked campaign holds in one channel-week; released if it ends unrun."""

    __tablename__ = "capacity_reservations"
    __table_args__ = (
        PrimaryKeyConstraint("campaign_id", "channel", "week_start"),
        # What one brand holds of a week: its view of the week is rounded around it
        # (privacy/sizes.brand_left), read at every brand forecast and booking.
        Index(None, "partner_id", "channel", "week_start"),
    )

    campaign_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    # The campaign's brand, kept here so that summing a brand's holds reads one index.
    partner_id: uuid.UUID = Field(sa_column=Column(ForeignKey("partners.id"), nullable=False))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    week_start: date = Field(sa_column=Column(Date, nullable=False))
    impressions: int = Field(sa_column=Column(BigInteger, nullable=False))


class CampaignEvent(SQLModel, table=True):
    """The audit trail: every state change, who made it (API key and role) and when."""

    __tablename__ = "campaign_events"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    campaign_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    action: str = Field(sa_column=Column(String(16), nullable=False))
    from_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    to_status: str = Field(sa_column=Column(String(16), nullable=False))
    actor_key_id: uuid.UUID | None = Field(default=None)
    actor_role: str = Field(sa_column=Column(String(32), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
