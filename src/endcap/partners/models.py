"""Partner: a manufacturer or agency that books campaigns. Brand keys belong to one."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from endcap.db.types import UTCDateTime, utcnow


class PartnerKind(StrEnum):
    MANUFACTURER = "manufacturer"
    AGENCY = "agency"


class PartnerBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    kind: PartnerKind = PartnerKind.MANUFACTURER


class Partner(PartnerBase, table=True):
    __tablename__ = "partners"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: PartnerKind = Field(
        sa_column=Column(
            SAEnum(
                PartnerKind,
                native_enum=False,
                length=32,
                values_callable=lambda e: [m.value for m in e],
            ),
            nullable=False,
        )
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
