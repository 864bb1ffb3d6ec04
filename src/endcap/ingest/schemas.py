"""Wire shapes for loads and their reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class RejectedRow(BaseModel):
    line: int | None
    column: str
    reason: str


class IngestReport(BaseModel):
    """What a load did. ``status`` is "loaded" (applied in full) or "rejected" (nothing applied)."""

    id: uuid.UUID
    entity: str
    source_name: str
    file_format: str
    status: str
    rows_read: int
    rows_inserted: int
    rows_updated: int
    rows_rejected: int
    # Rows of erased customers: left out, or purchases loaded without their customer.
    rows_suppressed: int = 0
    chunks: int
    rejections: list[RejectedRow]
    error: str | None
    resolution: dict[str, Any] | None = None
    started_at: datetime
    finished_at: datetime | None
