"""The worker's chores are registered by the modules the runner loads, as job handlers
are: a chore whose module is not loaded would never run."""

from __future__ import annotations

from datetime import timedelta

from endcap.activation.spool_retention import clear_failed_spools
from endcap.idempotency.retention import forget_expired
from endcap.jobs.chores import CHORES
from endcap.jobs.runner import load_handlers


def test_the_runner_loads_every_chore_with_its_schedule() -> None:
    load_handlers()
    assert {name: (c.run, c.every) for name, c in CHORES.items()} == {
        "clear-failed-spools": (clear_failed_spools, timedelta(minutes=10)),
        "forget-idempotency-keys": (forget_expired, timedelta(minutes=10)),
    }
