"""One remembered request per (API key, Idempotency-Key)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, PrimaryKeyConstraint, String
from sqlmodel import Field, SQLModel

from endcap.db.types import JsonDocument, UTCDateTime, utcnow


class IdempotentRequest(SQLModel, table=True):
    __tablename__ = "idempotent_requests"
    __table_args__ = (PrimaryKeyConstraint("key_id", "idempotency_key"),)

    key_id: uuid.UUID = Field(nullable=False)
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False))
    # What was asked: a retry must ask exactly the same (method, path and body).
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    # None while the first request is still running.
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    response: Any = Field(default=None, sa_column=Column(JsonDocument, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
