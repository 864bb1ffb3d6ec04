"""Upkeep the worker does between jobs, every so often: each chore is registered by the
module whose rows or files it keeps (as job handlers are, on import: runner.JOB_MODULES),
so the worker needs to know none of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from endcap.config import Settings
from endcap.db.engine import SessionFactory

# Does its work in sessions of its own; how many things it cleared (for the log).
ChoreRun = Callable[[SessionFactory, Settings], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Chore:
    name: str
    every: timedelta
    run: ChoreRun


CHORES: dict[str, Chore] = {}


def chore(name: str, *, every: timedelta) -> Callable[[ChoreRun], ChoreRun]:
    """Register ``run`` as a chore the worker runs at start, then every ``every``."""

    def register(run: ChoreRun) -> ChoreRun:
        CHORES[name] = Chore(name, every, run)
        return run

    return register
