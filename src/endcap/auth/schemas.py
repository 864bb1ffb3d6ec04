"""Wire shapes for API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from endcap.auth.models import ApiKeyBase
from endcap.auth.roles import Role
from endcap.names import DisplayName


class ApiKeyCreate(ApiKeyBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    # Listed to admins and printed by `endcap keys list`: held to the name rules (names.py).
    name: DisplayName


class ApiKeyPublic(ApiKeyBase):
    id: uuid.UUID
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    """Returned once, at creation: ``key`` is never shown again and cannot be recovered (a
    retry with the creation's Idempotency-Key gets it as null)."""

    key: str | None


class Me(BaseModel):
    key_id: uuid.UUID
    role: Role
    partner_id: uuid.UUID | None
