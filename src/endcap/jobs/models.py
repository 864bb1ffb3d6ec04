"""Job: one piece of long work (a load, a refresh), its progress and its outcome.

A running job is leased: its worker renews ``heartbeat_at`` while it runs, and a job
whose heartbeat has lapsed is reclaimed (see :mod:`endcap.jobs.reclaim`). ``attempts``
counts the claims; it is also the fencing token that tells a worker whether the job it
is running is still its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from endcap.db.types import UTCDateTime, utcnow


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (Index(None, "status", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    status: JobStatus = Field(
        default=JobStatus.QUEUED, sa_column=Column(String(16), nullable=False)
    )
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    progress_done: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    progress_total: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    message: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    started_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
