"""Activations: one export of a campaign's treatment group to one channel, with its counts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
)
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, UTCDateTime, utcnow


class ActivationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DELIVERED = "delivered"  # the channel acknowledged it, or the file is in the drop
    # Nothing counts as delivered (no contacts, no exported); the error says when the
    # channel may have the file nonetheless (sent, but the send could not be recorded).
    FAILED = "failed"


class Activation(SQLModel, table=True):
    __tablename__ = "activations"
    __table_args__ = (Index(None, "campaign_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    campaign_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    status: ActivationStatus = Field(
        default=ActivationStatus.QUEUED, sa_column=Column(String(16), nullable=False)
    )
    job_id: uuid.UUID | None = Field(default=None)
    # "push" to the channel's endpoint, or "file" into the drop folder. Set as the
    # delivery begins (a running activation with a method may have reached the channel,
    # see jobs.py) and cleared when it fails.
    method: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    destination: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    # Exact counts (retailer-side); a brand sees them rounded.
    members: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    holdout_excluded: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    no_consent_excluded: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Left out by the channel's contact-pressure limit across campaigns (activation/pressure.py).
    pressure_excluded: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    exported: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    match_keys: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class ActivationContact(SQLModel, table=True):
    """One shopper a delivered activation's file reached (written with the delivery).

    Other campaigns' exports on the same channel read these to keep each shopper's
    contacts per week under the channel's limit (:mod:`endcap.activation.pressure`).
    Customer-keyed (``profile_id``), like audience members; erasure deletes them, and a
    key-chain merge moves them to the surviving profile
    (:func:`endcap.activation.contacts.follow_profiles`).

    ``activation_id`` has no foreign key: PostgreSQL checks one row by row, which made
    recording a million contacts take 7 s instead of 1.8 s (COPY, PostgreSQL 15).
    Nothing deletes activations, and contacts are only ever read starting from
    delivered activations, so rows of a missing one would be inert.
    """

    __tablename__ = "activation_contacts"
    __table_args__ = (PrimaryKeyConstraint("activation_id", "profile_id"),)

    activation_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    profile_id: int = Field(sa_column=Column(BigId, nullable=False, index=True))
