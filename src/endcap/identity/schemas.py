from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from endcap.identity.models import IdType


class IdentifierQuery(BaseModel):
    """An identifier as a person would type it: it is normalised and hashed like loaded ones.

    Sent in a POST body, never in a URL, so e-mails and phones stay out of access logs.
    """

    model_config = ConfigDict(extra="forbid")

    id_type: IdType
    value: str = Field(min_length=1, max_length=320)
    is_hashed: bool = False


class IdentifierPublic(BaseModel):
    id_type: IdType
    value: str  # SHA-256 hex for e-mails and phones
    customer_id: str
    observed_at: datetime | None
    shared: bool


class CustomerPublic(BaseModel):
    customer_id: str
    attributes: dict[str, Any]


class MergePublic(BaseModel):
    kind: str
    from_profile_id: int
    into_profile_id: int
    customers_moved: int
    happened_at: datetime


class ProfileView(BaseModel):
    profile_id: int
    created_at: datetime
    customers: list[CustomerPublic]
    identifiers: list[IdentifierPublic]
    merges: list[MergePublic]


class LookupResult(BaseModel):
    """Profiles holding the identifier. A shared identifier (a house card) may name many."""

    shared: bool
    customer_records: int
    profiles: list[ProfileView]
