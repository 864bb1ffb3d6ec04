"""Wire shapes: the retailer's audience (exact numbers) and the brand's catalog entry
(rounded numbers, no members, no rule)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from endcap.audiences.models import AudienceKind, AudienceStatus
from endcap.audiences.specs import LookalikeSpec, PropensitySpec
from endcap.json_types import JSON_BOOLEAN, null_refused_but
from endcap.money import Currency, PremiumCpm
from endcap.names import DisplayName, ShownText
from endcap.privacy.channels import Channel


class AudienceCreate(BaseModel):
    """Exactly one of ``rule`` (the DSL), ``propensity`` or ``lookalike``."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName
    description: ShownText = Field(default="", max_length=2000)
    cpm: PremiumCpm | None = None
    currency: Currency | None = Field(default=None, description="the retailer's when left out")
    rule: dict[str, Any] | None = None
    propensity: PropensitySpec | None = None
    lookalike: LookalikeSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        given = [self.rule is not None, self.propensity is not None, self.lookalike is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of rule, propensity or lookalike")
        return self

    @property
    def kind(self) -> AudienceKind:
        if self.propensity is not None:
            return AudienceKind.PROPENSITY
        if self.lookalike is not None:
            return AudienceKind.LOOKALIKE
        return AudienceKind.RULE


class AudienceUpdate(BaseModel):
    """The fields to change; one left out keeps its value, and ``cpm`` null clears the
    price (price on request again). Null for any other field is refused: none can be empty."""

    model_config = ConfigDict(extra="forbid")

    _not_null = null_refused_but("cpm")

    name: DisplayName | None = None
    description: ShownText | None = Field(default=None, max_length=2000)
    rule: dict[str, Any] | None = None
    cpm: PremiumCpm | None = None
    currency: Currency | None = None


class RuleEstimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any]
    # Count every profile instead of the estimate sample (slower on large retailers).
    exact: Annotated[bool, JSON_BOOLEAN] = False


class SizeEstimate(BaseModel):
    """For the retailer's own screens only: exact, or from the estimate sample with a 95%
    interval (``low`` to ``high``; both equal ``size`` when exact)."""

    size: int
    low: int
    high: int
    exact: bool
    sampled_profiles: int | None = None


class AudienceVersionPublic(BaseModel):
    version: int
    size: int
    consented_size: int | None = Field(
        default=None,
        description="members holding the consent purpose of at least one channel: brands see "
        "this (rounded) as the size; none before migration 0029",
    )
    reach: dict[str, int]
    refreshed_at: datetime
    # A model audience's quality on data it was not fitted on (AUC, calibration, reach curve).
    report: dict[str, Any] | None = None


class AudiencePublic(BaseModel):
    """The retailer's view of an audience, exact counts included."""

    id: uuid.UUID
    name: str
    description: str
    kind: AudienceKind
    rule: dict[str, Any] | None
    # A model audience's request: target, horizon and cut; or reach, features and seed match.
    spec: dict[str, Any] | None
    cpm: Decimal | None
    currency: str
    status: AudienceStatus
    revision: int
    current: AudienceVersionPublic | None
    # Whether brands see (and can book) it now: published, and a channel reaches the
    # minimum. A published audience refreshed below the minimum is hidden until it grows.
    in_catalog: bool = False
    created_at: datetime
    updated_at: datetime


class ChannelReach(BaseModel):
    channel: Channel
    reach: int  # rounded to ENDCAP_PRIVACY_ROUND_TO


class Price(BaseModel):
    cpm: Decimal  # per thousand impressions
    currency: str


class CatalogEntry(BaseModel):
    """A published audience as a brand sees it: rounded sizes, no members, no rule."""

    id: uuid.UUID
    name: str
    description: str
    kind: AudienceKind
    price: Price | None  # None: price on request
    size: int
    size_band: str
    channels: list[ChannelReach]
    categories: list[str] = Field(
        default_factory=list, description="categories its rule, target or features name"
    )


class Overlap(BaseModel):
    """Profiles in both audiences, rounded; None (shown as ``label``) below the minimum,
    or ``"withheld"`` when one audience has fewer than k shoppers outside the other."""

    overlap: int | None
    label: str
