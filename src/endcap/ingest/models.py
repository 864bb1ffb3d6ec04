"""IngestRun: the kept record of one file load, with its rejected-row report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, String, Text
from sqlmodel import Field, SQLModel

from endcap.db.types import UTCDateTime, utcnow


class IngestRun(SQLModel, table=True):
    __tablename__ = "ingest_runs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    entity: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    source_name: str = Field(sa_column=Column(String(300), nullable=False))
    file_format: str = Field(sa_column=Column(String(16), nullable=False))
    # "loaded": applied in full; "rejected": bad rows, nothing applied; "failed": an error.
    status: str = Field(sa_column=Column(String(16), nullable=False))
    rows_read: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_inserted: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_updated: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_rejected: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    chunks: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # Rows of erased customers left out (or, for purchases, loaded anonymous): suppress.py.
    rows_suppressed: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    rejections: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    job_id: uuid.UUID | None = Field(default=None)
    started_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
