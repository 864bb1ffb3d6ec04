"""Running the export handler in the test, as the worker would, and reading the outcome."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

from endcap.activation.jobs import run_export
from endcap.activation.models import Activation
from endcap.activation.service import EXPORT_JOB
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.jobs.models import Job


async def export(sessions: SessionFactory, settings: Settings, activation_id: uuid.UUID) -> None:
    """Run the "activation_export" handler on ``activation_id`` (raises what it raises)."""
    seen: list[tuple[int, int | None]] = []
    job = Job(kind=EXPORT_JOB, params={"activation_id": str(activation_id)})
    await run_export(sessions, settings, job, lambda done, total: seen.append((done, total)))


async def activation(sessions: SessionFactory, activation_id: uuid.UUID) -> Activation:
    async with sessions() as session:
        row = await session.get(Activation, activation_id)
        assert row is not None
        return row


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))
