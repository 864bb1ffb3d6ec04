"""Spool files no run clears: an export failed as abandoned after it reached ``sending``
keeps its files (a run that only lost its lease may still be pushing from them), and so
would keep shoppers' ids on disk for good, out of every erasure's reach. The worker's
chore clears them once no run could still be sending (spool_retention.grace)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import col

from endcap.activation import jobs as activation_jobs
from endcap.activation.models import Activation, ActivationStatus
from endcap.activation.spool_retention import MIN_GRACE, clear_failed_spools, grace
from endcap.activation.steps import SPOOL_FOLDER, ExportSteps
from endcap.config import ActivationSettings, Settings
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.jobs.chores import CHORES
from endcap.jobs.reclaim import Reclaim
from endcap.jobs.worker import Worker
from endcap.privacy.channels import Channel
from tests.activation.data import Shop, build_shop

ABANDONED = "abandoned: the worker running it stopped responding (3 attempts)"


async def add(sessions: SessionFactory, shop: Shop, **values: object) -> uuid.UUID:
    async with sessions() as session:
        row = Activation(campaign_id=shop.campaign.id, channel=Channel.COUPON.value, **values)
        session.add(row)
        await session.commit()
    return row.id


def spooled(spool: Path, activation_id: uuid.UUID, *suffixes: str) -> list[Path]:
    """Files as an export leaves them: the channel's file, its contacts, its owners."""
    paths = [spool / f"{activation_id}-k2j4{suffix}" for suffix in suffixes]
    for path in paths:
        path.write_text("profile_id\n7\n", encoding="utf-8")
    return paths


async def finished(sessions: SessionFactory, activation_id: uuid.UUID, ago: timedelta) -> None:
    async with sessions() as session:
        await session.execute(
            update(Activation)
            .where(col(Activation.id) == activation_id)
            .values(finished_at=utcnow() - ago)
        )
        await session.commit()


async def test_an_abandoned_sending_exports_files_go_once_no_run_could_be_sending(
    sessions: SessionFactory, settings: Settings
) -> None:
    assert CHORES["clear-failed-spools"].run is clear_failed_spools
    assert activation_jobs.on_abandoned is not None  # the module that registers it
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    spool = Path(settings.activation.drop_dir) / SPOOL_FOLDER
    spool.mkdir(parents=True)
    sending = await add(
        sessions, shop, status=ActivationStatus.RUNNING, method="push", destination="https://x"
    )
    left = spooled(spool, sending, "", ".contacts", ".owners")
    delivered = await add(sessions, shop, status=ActivationStatus.DELIVERED, finished_at=utcnow())
    delivered_left = spooled(spool, delivered, "")
    running = spooled(spool, await add(sessions, shop, status=ActivationStatus.RUNNING), "")
    unknown = spooled(spool, uuid.uuid4(), "")  # no such activation
    stray = spool / "README"
    stray.write_text("not an export's\n", encoding="utf-8")

    async with sessions() as session:
        verdict = await ExportSteps(session, settings).abandoned(sending, Reclaim(ABANDONED))
        await session.commit()
    assert verdict.error is not None
    assert "while sending it (push to https://x)" in verdict.error  # failed past sending
    worker = Worker(sessions, settings)
    await worker.run_due_chores({})
    # Failed just now: a run that lost its lease may still be pushing from them.
    everything = sorted([*left, *delivered_left, *running, *unknown, stray])
    assert sorted(spool.iterdir()) == everything

    await finished(sessions, sending, grace(settings) + timedelta(minutes=1))
    await finished(sessions, delivered, grace(settings) + timedelta(minutes=1))
    due = {"clear-failed-spools": 0.0}
    await worker.run_due_chores(due)

    assert sorted(spool.iterdir()) == sorted([*running, *unknown, stray])
    assert due["clear-failed-spools"] > 0.0  # and not again before its next time


async def test_the_grace_outlasts_every_push_attempt_and_the_lease(settings: Settings) -> None:
    assert grace(settings) == MIN_GRACE  # the tests' 4 tries of 5 s are far inside an hour
    slow = Settings()
    slow.activation = ActivationSettings(attempts=10, timeout_seconds=600, backoff_seconds=2)
    # 10 tries of 10 min, 1,022 s of back-offs, the 60 s lease: twice that.
    assert grace(slow) == timedelta(seconds=2 * (60 + 6000 + 1022))
