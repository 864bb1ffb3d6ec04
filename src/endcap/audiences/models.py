"""Audiences, their refreshed member versions, and the members themselves.

An audience is one of three kinds: a *rule* (the DSL in rules.py), a
*propensity* model ("likely to buy X in the next N weeks") or a *lookalike* of a
seed list. Rule audiences keep their rule in ``rule``; model audiences keep
their request in ``spec`` and, for lookalikes, the matched seed in
``audience_seeds``. Membership is versioned per refresh: a booking pins the
version it bought, and later refreshes never change what an earlier version
holds. A model audience's version also keeps the model's report (AUC,
calibration, the reach/similarity curve): what the retailer judged it by.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, JsonDocument, UTCDateTime, utcnow


class AudienceStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"  # in the brand-facing catalog
    DELETED = "deleted"


class AudienceKind(StrEnum):
    RULE = "rule"
    PROPENSITY = "propensity"
    LOOKALIKE = "lookalike"


class Audience(SQLModel, table=True):
    __tablename__ = "audiences"
    __table_args__ = (
        # A name names one live audience; a deleted one leaves its name free (migration 0024).
        Index(
            None,
            "name",
            unique=True,
            postgresql_where=text("status <> 'deleted'"),
            sqlite_where=text("status <> 'deleted'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    kind: AudienceKind = Field(
        default=AudienceKind.RULE,
        sa_column=Column(String(16), nullable=False, server_default=AudienceKind.RULE.value),
    )
    rule: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument, nullable=True))
    # A model audience's request (target, horizon and cut; or seed summary, reach, features).
    spec: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument, nullable=True))
    status: AudienceStatus = Field(
        default=AudienceStatus.DRAFT, sa_column=Column(String(16), nullable=False)
    )
    # The price a brand pays per thousand impressions; none yet = price on request.
    cpm: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2), nullable=True))
    currency: str = Field(
        default="SEK", sa_column=Column(String(3), nullable=False, server_default="SEK")
    )
    # Optimistic concurrency: every change bumps it; an update must name the one it read.
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    current_version: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class AudienceVersion(SQLModel, table=True):
    """One refresh: exact counts (retailer-side); brands only ever see them rounded."""

    __tablename__ = "audience_versions"
    __table_args__ = (PrimaryKeyConstraint("audience_id", "version"),)

    audience_id: uuid.UUID = Field(sa_column=Column(ForeignKey("audiences.id"), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    size: int = Field(sa_column=Column(Integer, nullable=False))
    # Members holding the consent purpose of at least one channel: what brands are shown as
    # the audience's size (a shopper who consented to nothing is no one's to count for a
    # brand). None on versions refreshed before migration 0029: brands see ``size``.
    consented_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Members with the consent purpose each channel needs: {"email": 1234, ...}
    reach: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JsonDocument, nullable=False)
    )
    refreshed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    # When brands were first shown this version (current while its audience was published);
    # the difference check compares new releases with every released version, for good.
    released_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # The digest of the audience's kind, rule and model request this version was computed
    # from (service._definition): the difference check tells a rule change from drift by
    # it. None on versions refreshed before migration 0027.
    definition: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # How a model audience's model did on data it was not fitted on (retailer-side only).
    report: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JsonDocument, nullable=True)
    )


class AudienceMember(SQLModel, table=True):
    __tablename__ = "audience_members"
    __table_args__ = (PrimaryKeyConstraint("audience_id", "version", "profile_id"),)

    audience_id: uuid.UUID = Field(sa_column=Column(ForeignKey("audiences.id"), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    profile_id: int = Field(sa_column=Column(BigId, nullable=False, index=True))
    # The channel consent purposes the member held when its version was refreshed, as bits
    # (shown_consent.py): the sets behind the reach brands were shown, which the difference
    # check compares. Never used to reach anyone: exports re-check consent live.
    purposes_at_refresh: int = Field(
        default=0, sa_column=Column(SmallInteger, nullable=False, server_default=text("0"))
    )


class AudienceSeed(SQLModel, table=True):
    """The profiles a lookalike's seed list matched (the submitted ids are not kept)."""

    __tablename__ = "audience_seeds"
    __table_args__ = (PrimaryKeyConstraint("audience_id", "profile_id"),)

    audience_id: uuid.UUID = Field(sa_column=Column(ForeignKey("audiences.id"), nullable=False))
    profile_id: int = Field(sa_column=Column(BigId, nullable=False, index=True))


class FrozenOverlap(SQLModel, table=True):
    """How two audience versions overlap, counted the first time a brand-facing number
    needs it and kept (frozen_overlaps.py says why): among members holding any channel's
    consent purpose (``purpose`` "any") or one purpose. Counts only, no shopper."""

    __tablename__ = "frozen_overlaps"
    __table_args__ = (
        PrimaryKeyConstraint(
            "first_audience_id", "first_version", "second_audience_id", "second_version", "purpose"
        ),
    )

    first_audience_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("audiences.id"), nullable=False)
    )
    first_version: int = Field(sa_column=Column(Integer, nullable=False))
    second_audience_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("audiences.id"), nullable=False)
    )
    second_version: int = Field(sa_column=Column(Integer, nullable=False))
    purpose: str = Field(sa_column=Column(String(32), nullable=False))
    first_count: int = Field(sa_column=Column(Integer, nullable=False))
    second_count: int = Field(sa_column=Column(Integer, nullable=False))
    overlap: int = Field(sa_column=Column(Integer, nullable=False))
    counted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
