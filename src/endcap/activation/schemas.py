"""Wire shapes for activations; the table model never goes on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from endcap.activation.models import ActivationStatus
from endcap.privacy.channels import Channel


class ActivationRequest(BaseModel):
    """Which of the campaign's channels to export to (all of them when the body is left out)."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))

    @field_validator("channels")
    @classmethod
    def _once_each(cls, channels: list[Channel]) -> list[Channel]:
        # As in a forecast or a campaign: a repeat was dropped without a word.
        if len(set(channels)) != len(channels):
            raise ValueError("each channel may be named once")
        return channels


class ActivationPublic(BaseModel):
    """One export of a campaign to one channel.

    ``exact`` says whether the counts are exact (the retailer) or rounded (a brand: to
    the privacy gate's step, and None below its minimum). ``no_consent_excluded`` and
    ``pressure_excluded`` say why shoppers were left out; they are retailer-side only, as
    the pressure count sizes other brands' campaigns. ``method``, ``destination``,
    ``error`` and ``job_id`` are retailer-side only and None for a brand.
    """

    id: uuid.UUID
    campaign_id: uuid.UUID
    channel: str
    status: ActivationStatus
    exact: bool
    members: int | None
    holdout_excluded: int | None
    no_consent_excluded: int | None
    # Left out by the channel's limit on contacts per shopper per week across campaigns.
    pressure_excluded: int | None
    exported: int | None
    match_keys: int | None
    attempts: int
    method: str | None
    destination: str | None
    error: str | None
    job_id: uuid.UUID | None
    created_at: datetime
    finished_at: datetime | None
