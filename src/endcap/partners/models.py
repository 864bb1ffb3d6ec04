"""Partner: a manufacturer or agency that books campaigns. Brand keys belong to one."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, PrimaryKeyConstraint, String
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, UTCDateTime, utcnow


class PartnerKind(StrEnum):
    MANUFACTURER = "manufacturer"
    AGENCY = "agency"


class OwnedVia(StrEnum):
    """How a partner came to own a brand: its manufacturer is linked, or the brand alone."""

    MANUFACTURER = "manufacturer"
    BRAND = "brand"


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


class PartnerManufacturer(SQLModel, table=True):
    """A manufacturer in the retailer's catalog that a partner may promote (and report on).

    An agency may act for several manufacturers; a manufacturer may use several
    agencies. A partner's brands are the brands of its manufacturers, plus any brand
    linked on its own (PartnerBrandLink).
    """

    __tablename__ = "partner_manufacturers"
    __table_args__ = (PrimaryKeyConstraint("partner_id", "manufacturer_id"),)

    partner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("partners.id", ondelete="CASCADE"), nullable=False)
    )
    manufacturer_id: int = Field(
        sa_column=Column(BigId, ForeignKey("manufacturers.id"), nullable=False, index=True)
    )
    linked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class PartnerBrandLink(SQLModel, table=True):
    """A single brand a partner may promote (and report on) without its manufacturer's others.

    For an agency that handles one brand of a large manufacturer. A partner owns a
    brand when it is linked here or its manufacturer is linked (PartnerManufacturer).
    """

    __tablename__ = "partner_brands"
    __table_args__ = (PrimaryKeyConstraint("partner_id", "brand_id"),)

    partner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("partners.id", ondelete="CASCADE"), nullable=False)
    )
    brand_id: int = Field(
        sa_column=Column(BigId, ForeignKey("brands.id"), nullable=False, index=True)
    )
    linked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
