"""What the retailer asks for when an audience is a model rather than a rule.

A *propensity* audience is "likely to buy this target in the next N weeks": a
classifier trained on history, checked on a later period it never saw, and cut
at the top share of shoppers or at a score. A *lookalike* audience expands a
seed list (customer ids, or SHA-256 hashes of e-mail addresses matched through
the key chains) to a requested reach with the shoppers most like the seed.

Types and ranges are checked here; catalog names, sensitive categories and the
seed's match are checked by the services, with JSON pointers into the request.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from endcap.json_types import JSON_INTEGER, JSON_NUMBER

# Long enough for a seasonal category, short enough that two horizons of history
# (train, then check) fit in the 52 weeks the traits keep.
MAX_HORIZON_WEEKS: Final = 26
# A seed is a survey panel or a CRM extract, not the customer base; a bigger list is
# an audience already. 100k hashes also stay inside the default 10 MB request body.
MAX_SEED_ENTRIES: Final = 100_000
MAX_FEATURES: Final = 200

Level = Literal["department", "category", "brand", "manufacturer"]


class TargetSpec(BaseModel):
    """A department, category, brand or manufacturer, named as in the catalog."""

    model_config = ConfigDict(extra="forbid")

    level: Level
    name: str = Field(min_length=1, max_length=200)
    manufacturer: str | None = Field(default=None, min_length=1, max_length=200)


class Selection(BaseModel):
    """Who is in: the ``top_share`` of scored shoppers, or everyone at ``min_score`` or above."""

    model_config = ConfigDict(extra="forbid")

    top_share: Annotated[float, JSON_NUMBER] | None = Field(default=None, gt=0, le=1)
    min_score: Annotated[float, JSON_NUMBER] | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.top_share is None) == (self.min_score is None):
            raise ValueError("give exactly one of top_share or min_score")
        return self


class PropensitySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: TargetSpec
    horizon_weeks: Annotated[int, JSON_INTEGER] = Field(ge=1, le=MAX_HORIZON_WEEKS)
    select: Selection


class SeedSpec(BaseModel):
    """The seed list: the retailer's customer ids, or SHA-256 hex of normalised e-mails."""

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[str] | None = Field(default=None, max_length=MAX_SEED_ENTRIES)
    email_sha256: list[str] | None = Field(default=None, max_length=MAX_SEED_ENTRIES)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.customer_ids is None) == (self.email_sha256 is None):
            raise ValueError("give exactly one of customer_ids or email_sha256")
        return self

    @property
    def entries(self) -> list[str]:
        return self.customer_ids if self.customer_ids is not None else self.email_sha256 or []

    @property
    def kind(self) -> str:
        return "customer_ids" if self.customer_ids is not None else "email_sha256"


class FeatureSpec(BaseModel):
    """A department or category whose spend the lookalike model may look at."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["department", "category"]
    name: str = Field(min_length=1, max_length=200)


class LookalikeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: SeedSpec
    # Total profiles wanted: the matched seed plus the closest shoppers outside it.
    reach: Annotated[int, JSON_INTEGER] = Field(ge=1, le=100_000_000)
    # Default: every department's and category's spend the retailer has not marked sensitive.
    features: list[FeatureSpec] | None = Field(default=None, min_length=1, max_length=MAX_FEATURES)
