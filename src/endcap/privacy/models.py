"""Erasure tombstones: proof that an erasure happened, holding no personal data."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel

from endcap.db.types import UTCDateTime, utcnow


class ErasureTombstone(SQLModel, table=True):
    __tablename__ = "erasure_tombstones"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    erased_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    # How the request named the person (the identifier *type* only, never its value).
    requested_by_id_type: str = Field(sa_column=Column(String(32), nullable=False))
    requested_by_key: uuid.UUID | None = Field(default=None)
    transactions_policy: str = Field(sa_column=Column(String(16), nullable=False))
    customers_removed: int = Field(sa_column=Column(Integer, nullable=False))
    identifiers_removed: int = Field(sa_column=Column(Integer, nullable=False))
    consent_events_removed: int = Field(sa_column=Column(Integer, nullable=False))
    transactions_affected: int = Field(sa_column=Column(Integer, nullable=False))
    # Activation files in the file drop rewritten without the person (drop_files.py).
    activation_files_scrubbed: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )


class ErasedCustomer(SQLModel, table=True):
    """A customer id that was erased, as its SHA-256 (hex): the suppression list.

    The retailer's next export may still hold the person; a load drops their customer,
    identifier and consent rows and keeps their purchases anonymous (ingest/suppress.py),
    so an erasure is not undone by a routine reload. The hash is one-way: it can only
    recognise the id when a file brings it again."""

    __tablename__ = "erased_customers"

    key_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    erased_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
