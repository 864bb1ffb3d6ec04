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

    The counts (``members``, ``holdout_excluded``, ``no_consent_excluded``,
    ``pressure_excluded``, ``exported``, ``match_keys``), ``method``, ``destination``,
    ``error`` and ``job_id`` are the retailer's: a brand sees them as None (``exact`` is
    False) and reads what its campaign reached in its report, through the privacy gate
    (activation/service.py ``public`` says why). The pressure count, for one, is the
    overlap of this audience with other brands' delivered files.
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
