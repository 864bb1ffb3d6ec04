"""Spool files no run will clear: chiefly those of exports failed after ``sending``.

A failed export's run discards its own files as it ends (jobs.run_export). An export
whose worker died is failed by the reclaim instead, and once it reached ``sending`` the
reclaim leaves its files alone: a run that only lost its lease may still be pushing from
them, or moving them into the drop (ExportSteps.fail). If its worker really died, nothing
else would ever clear them, and they hold shoppers' profile ids or hashed contacts that
no erasure looks for (an erasure rewrites files in the drop, and an export looks at its
own spool file only while it still runs). So the worker clears the files of exports
failed longer ago than any run could still be sending from them (:func:`grace`), and of
exports delivered as long ago (a worker that died between recording the delivery and
discarding its files left them: no one needs them once the delivery is recorded).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Final

from endcap.activation.repository import ActivationRepository
from endcap.activation.steps import SPOOL_FOLDER, clear_spool
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow

# How often the worker looks, and the least a failed export's files are kept.
SWEEP_EVERY: Final = timedelta(minutes=10)
MIN_GRACE: Final = timedelta(hours=1)
_ID_LENGTH: Final = 36  # a spool file's name starts with its activation's id


def grace(settings: Settings) -> timedelta:
    """How long after its export failed its spool files are kept: the lease its run lost
    (it learns of that at its next renewal at the latest), then every push attempt timing
    out with the back-offs between them (activation/delivery.py), twice over; an hour at
    least. Not a hard bound: the timeout is per network operation, so a slow upload can
    outlast it. A run still pushing then keeps reading the file it opened, and its next
    attempt finds the file gone and fails, writing nothing: the export failed already."""
    activation = settings.activation
    backoffs = activation.backoff_seconds * (2 ** (activation.attempts - 1) - 1)
    pushing = activation.attempts * activation.timeout_seconds + backoffs
    bound = timedelta(seconds=2 * (settings.worker.lease_seconds + pushing))
    return max(MIN_GRACE, bound)


def spooled_activations(spool: Path) -> set[uuid.UUID]:
    """The activations with files in ``spool`` (names it did not write are left alone)."""
    found: set[uuid.UUID] = set()
    for path in spool.glob("*-*") if spool.is_dir() else ():
        try:
            found.add(uuid.UUID(path.name[:_ID_LENGTH]))
        except ValueError:
            continue
    return found


async def clear_failed_spools(sessions: SessionFactory, settings: Settings) -> int:
    """Remove the spool files of exports failed or delivered more than :func:`grace` ago;
    how many."""
    spool = Path(settings.activation.drop_dir) / SPOOL_FOLDER
    spooled = spooled_activations(spool)
    if not spooled:
        return 0
    async with sessions() as session:
        stale = await ActivationRepository(session).finished_before(
            spooled, utcnow() - grace(settings)
        )
    return sum(clear_spool(spool, activation_id) for activation_id in stale)
