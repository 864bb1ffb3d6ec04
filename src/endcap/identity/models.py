"""Profiles, the retailer's customer records, their identifiers, and the merge history.

A *customer* is one record in one retailer system (a loyalty card holder, a web
account). A *profile* is the person: the connected component of customer
records that share an identifier. Profile-keyed tables share ``profile_id`` as
their distribution key (infra/README.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, PrimaryKeyConstraint, String
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, JsonDocument, UTCDateTime, utcnow


class IdType(StrEnum):
    LOYALTY_CARD = "loyalty_card"
    EMAIL = "email"
    PHONE = "phone"
    ACCOUNT = "account"
    DEVICE = "device"


class Profile(SQLModel, table=True):
    __tablename__ = "profiles"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_id: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    profile_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("profiles.id"), nullable=True, index=True)
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonDocument, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Identifier(SQLModel, table=True):
    """One identifier seen on one customer record. E-mails and phones hold a SHA-256 hex
    of the normalised value; ``raw_value`` is kept only when the retailer enables it."""

    __tablename__ = "identifiers"
    __table_args__ = (PrimaryKeyConstraint("id_type", "id_value", "customer_ref"),)

    id_type: IdType = Field(sa_column=Column(String(16), nullable=False))
    id_value: str = Field(sa_column=Column(String(128), nullable=False))
    customer_ref: int = Field(
        sa_column=Column(
            BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    raw_value: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    observed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class SharedIdentifier(SQLModel, table=True):
    """An identifier on more customer records than a person plausibly has (a store's
    house card, a family e-mail): flagged, and never used to merge."""

    __tablename__ = "shared_identifiers"
    __table_args__ = (PrimaryKeyConstraint("id_type", "id_value"),)

    id_type: IdType = Field(sa_column=Column(String(16), nullable=False))
    id_value: str = Field(sa_column=Column(String(128), nullable=False))
    customer_count: int = Field(sa_column=Column(Integer, nullable=False))
    flagged_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ProfileMerge(SQLModel, table=True):
    """Merge history: ``from_profile_id`` was folded into ``into_profile_id`` (or split from it)."""

    __tablename__ = "profile_merges"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    from_profile_id: int = Field(sa_column=Column(BigId, nullable=False, index=True))
    into_profile_id: int = Field(sa_column=Column(BigId, nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))  # "merge" or "split"
    customers_moved: int = Field(sa_column=Column(Integer, nullable=False))
    happened_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
