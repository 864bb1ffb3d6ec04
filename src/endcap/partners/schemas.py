"""Wire shapes for partners; the table model never goes on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from endcap.names import DisplayName
from endcap.partners.models import OwnedVia, PartnerBase


class PartnerCreate(PartnerBase):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    # Checked on the way in only: a partner stored before this check still reads back.
    name: DisplayName


class PartnerPublic(PartnerBase):
    id: uuid.UUID
    created_at: datetime


class ManufacturerLink(BaseModel):
    """A manufacturer in the retailer's catalog, by its name there."""

    model_config = ConfigDict(extra="forbid")

    manufacturer: str = Field(min_length=1, max_length=200)


class BrandLink(BaseModel):
    """A brand in the retailer's catalog, by its name there.

    Brand names repeat across manufacturers; name the manufacturer when they do.
    """

    model_config = ConfigDict(extra="forbid")

    brand: str = Field(min_length=1, max_length=200)
    manufacturer: str | None = Field(default=None, min_length=1, max_length=200)


class PartnerBrand(BaseModel):
    id: int
    name: str
    manufacturer: str
    via: OwnedVia  # "manufacturer" when the whole manufacturer is linked, even if the brand is too
