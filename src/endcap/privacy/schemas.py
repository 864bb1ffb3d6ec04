from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from endcap.identity.models import IdType


class ErasureRequest(BaseModel):
    """Name the shopper by a retailer customer id, or by any identifier (normalised like loads)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(default=None, max_length=128)
    id_type: IdType | None = None
    value: str | None = Field(default=None, max_length=320)

    @model_validator(mode="after")
    def _one_way(self) -> ErasureRequest:
        by_identifier = self.id_type is not None and bool(self.value)
        if (self.customer_id is not None) == by_identifier:
            raise ValueError("give either customer_id, or id_type and value")
        return self


class Tombstone(BaseModel):
    """What an erasure did; holds no personal data."""

    id: uuid.UUID
    erased_at: datetime
    requested_by_id_type: str
    transactions_policy: str
    customers_removed: int
    identifiers_removed: int
    consent_events_removed: int
    transactions_affected: int
    activation_files_scrubbed: int
