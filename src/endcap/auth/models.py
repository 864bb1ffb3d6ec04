"""ApiKey: a hashed, prefixed, revocable credential carrying a role."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from endcap.auth.roles import Role
from endcap.db.types import UTCDateTime, utcnow


class ApiKeyBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    partner_id: uuid.UUID | None = None


class ApiKey(ApiKeyBase, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    role: Role = Field(
        sa_column=Column(
            SAEnum(
                Role, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
            ),
            nullable=False,
        )
    )
    partner_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("partners.id", ondelete="RESTRICT"), nullable=True, index=True),
    )
    # The clear part of the key used to find this row; never enough to authenticate.
    lookup: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    secret_digest: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
