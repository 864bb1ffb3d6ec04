"""Wire shapes: the retailer's audience (exact numbers) and the brand's catalog entry
(rounded numbers, no members, no rule)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from endcap.audiences.models import AudienceStatus
from endcap.privacy.channels import Channel


class AudienceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    rule: dict[str, Any]


class AudienceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    rule: dict[str, Any] | None = None


class RuleEstimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any]


class SizeEstimate(BaseModel):
    """Exact: for the retailer's own screens only."""

    size: int


class AudienceVersionPublic(BaseModel):
    version: int
    size: int
    reach: dict[str, int]
    refreshed_at: datetime


class AudiencePublic(BaseModel):
    """The retailer's view of an audience, exact counts included."""

    id: uuid.UUID
    name: str
    description: str
    rule: dict[str, Any]
    status: AudienceStatus
    revision: int
    current: AudienceVersionPublic | None
    created_at: datetime
    updated_at: datetime


class ChannelReach(BaseModel):
    channel: Channel
    reach: int  # rounded to ENDCAP_PRIVACY_ROUND_TO


class CatalogEntry(BaseModel):
    """A published audience as a brand sees it: rounded sizes, no members, no rule."""

    id: uuid.UUID
    name: str
    description: str
    size: int
    size_band: str
    channels: list[ChannelReach]


class Overlap(BaseModel):
    """Profiles in both audiences, rounded; None (shown as ``label``) below the minimum."""

    overlap: int | None
    label: str
