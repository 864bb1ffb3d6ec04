"""Consent events, and the current state derived from them.

The ledger is append-only and the truth; ``profile_consents`` holds what it says
now, per profile and purpose, so that reach and exports need not aggregate the
whole ledger (endcap.consent.state keeps it in step).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, PrimaryKeyConstraint, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, UTCDateTime, utcnow


class Purpose(StrEnum):
    TARGETING_ONSITE = "targeting_onsite"
    TARGETING_OFFSITE = "targeting_offsite"
    EMAIL = "email"
    MEASUREMENT = "measurement"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentEvent(SQLModel, table=True):
    __tablename__ = "consent_events"
    # The same event loaded twice is one event: loads stay idempotent.
    __table_args__ = (UniqueConstraint("customer_ref", "purpose", "recorded_at", "status"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    customer_ref: int = Field(
        sa_column=Column(
            BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    purpose: Purpose = Field(sa_column=Column(String(32), nullable=False))
    status: ConsentStatus = Field(sa_column=Column(String(16), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    source: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ProfileConsent(SQLModel, table=True):
    """A purpose a profile holds consent for right now: one row per consented pair, none
    for a purpose never granted or withdrawn since. Derived from the ledger by the rule of
    :mod:`endcap.consent.service`, in the same transaction as every change to it."""

    __tablename__ = "profile_consents"
    __table_args__ = (PrimaryKeyConstraint("profile_id", "purpose"),)

    profile_id: int = Field(
        sa_column=Column(BigId, ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False)
    )
    purpose: Purpose = Field(sa_column=Column(String(32), nullable=False))
    # The grant in force (the latest one across the profile's records).
    granted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
