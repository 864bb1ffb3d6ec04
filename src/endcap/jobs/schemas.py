from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from endcap.jobs.models import JobStatus


class JobPublic(BaseModel):
    """A job as a client polls it: ``progress_done`` of ``progress_total`` (an estimate).

    ``attempts`` counts the runs it was given: more than one when a worker died running it.
    """

    id: uuid.UUID
    kind: str
    status: JobStatus
    progress_done: int
    progress_total: int | None
    message: str | None
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
