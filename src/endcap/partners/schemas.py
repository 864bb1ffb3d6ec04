"""Wire shapes for partners; the table model never goes on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict

from endcap.partners.models import PartnerBase


class PartnerCreate(PartnerBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class PartnerPublic(PartnerBase):
    id: uuid.UUID
    created_at: datetime
