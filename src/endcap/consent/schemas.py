from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from endcap.consent.models import ConsentStatus, Purpose
from endcap.json_types import RecordedTime


class ConsentRecord(BaseModel):
    """A consent event as the retailer's consent tool sends it."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=128)
    purpose: Purpose
    status: ConsentStatus
    recorded_at: RecordedTime | None = Field(
        default=None, description="when the shopper decided; now if omitted"
    )
    source: str | None = Field(default=None, max_length=120)


class ConsentEventPublic(BaseModel):
    customer_id: str
    purpose: Purpose
    status: ConsentStatus
    recorded_at: datetime
    source: str | None


class PurposeState(BaseModel):
    purpose: Purpose
    status: ConsentStatus | None  # None: never asked, which counts as not granted
    granted: bool
    recorded_at: datetime | None


class ConsentState(BaseModel):
    profile_id: int
    purposes: list[PurposeState]
    ledger: list[ConsentEventPublic]
