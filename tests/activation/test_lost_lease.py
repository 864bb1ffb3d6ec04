"""A run whose job was reclaimed while it was still going (its worker stalled past the
lease, it did not die) runs beside the run that replaced it: the file still reaches the
channel once. The stale run is the export handler run here with the claim it lost; the
job is reclaimed and claimed again in the database, as another worker does."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from endcap.activation.jobs import run_export
from endcap.activation.models import Activation, ActivationStatus
from endcap.activation.repository import ActivationRepository
from endcap.activation.service import EXPORT_JOB
from endcap.client import EndcapClient
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.errors import ConflictError
from endcap.jobs.models import Job, JobStatus
from endcap.jobs.worker import Worker
from endcap.privacy.channels import Channel
from tests.activation.data import Shop, build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation


async def claimed(sessions: SessionFactory, shop: Shop) -> tuple[uuid.UUID, Job]:
    """A queued activation whose export job a worker (this test) has just claimed, and the
    job as that worker holds it."""
    async with sessions() as session:
        row = Activation(campaign_id=shop.campaign.id, channel=shop.campaign.channels[0])
        job = Job(
            kind=EXPORT_JOB,
            params={"activation_id": str(row.id)},
            status=JobStatus.RUNNING,
            attempts=1,
            started_at=utcnow(),
            heartbeat_at=utcnow(),
        )
        row.job_id = job.id
        session.add_all([row, job])
        await session.commit()
    return row.id, Job(id=job.id, kind=job.kind, params=job.params, attempts=1)


async def set_job(sessions: SessionFactory, job_id: uuid.UUID, **values: object) -> None:
    async with sessions() as session:
        await session.execute(update(Job).where(col(Job.id) == job_id).values(**values))
        await session.commit()


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def run(sessions: SessionFactory, settings: Settings, job: Job) -> asyncio.Task[object]:
    return asyncio.create_task(run_export(sessions, settings, job, lambda _d, _t: None))


async def test_a_run_that_lost_its_claim_during_a_slow_push_is_not_sent_again(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id, first = await claimed(sessions, shop)
    receiver.hold()

    stale = run(sessions, settings, first)
    await asyncio.to_thread(receiver.wait_for, 1)  # the first run's push is in flight
    # Its lease lapsed meanwhile: another worker reclaimed the job and claimed it again.
    await set_job(sessions, first.id, attempts=2, heartbeat_at=utcnow())
    again = Job(id=first.id, kind=EXPORT_JOB, params=first.params, attempts=2)
    second = run(sessions, settings, again)
    await asyncio.wait({second}, timeout=10)  # a second push would be held as well
    receiver.release()
    outcomes = await asyncio.gather(stale, second, return_exceptions=True)

    done = await activation(sessions, activation_id)
    assert len(receiver.requests) == 1
    assert isinstance(outcomes[1], ConflictError)
    assert "it may have arrived, so it is not sent again" in outcomes[1].detail
    # The first run's push went out and was taken: that is what the record says.
    assert (done.status, done.method, done.destination) == ("delivered", "push", receiver.url)


@pytest.mark.postgres  # the channel's export lock (an advisory lock) is what the runs wait on
async def test_a_run_reclaimed_while_it_waited_for_its_channel_leaves_the_push_to_its_successor(
    sessions: SessionFactory,
    settings: Settings,
    admin: EndcapClient,
    receiver: ChannelReceiver,
) -> None:
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id, first = await claimed(sessions, shop)

    async def status(expected: str, attempts: int) -> bool:
        async with sessions() as session:
            job = await session.get(Job, first.id, populate_existing=True)
            row = await session.get(Activation, activation_id, populate_existing=True)
            assert job is not None
            assert row is not None
            return (row.status, job.status, job.attempts) == (expected, "running", attempts)

    async with sessions() as channel:  # another export on the channel, taking its time
        await ActivationRepository(channel).lock_channel(Channel.COUPON.value)
        stale = run(sessions, settings, first)
        await until(lambda: status(ActivationStatus.RUNNING, 1))  # started, waits its turn
        # Its worker stalls past the lease: the job is reclaimed and the server's worker
        # runs it again, which waits for the channel too.
        await set_job(sessions, first.id, heartbeat_at=utcnow() - timedelta(minutes=10))
        await Worker(sessions, settings).reclaim_abandoned()
        await until(lambda: status(ActivationStatus.RUNNING, 2))
        await channel.rollback()
    outcome = (await asyncio.gather(stale, return_exceptions=True))[0]
    job = await asyncio.to_thread(admin.wait, first.id, timeout=60)

    done = await activation(sessions, activation_id)
    assert len(receiver.requests) == 1
    assert isinstance(outcome, ConflictError)
    assert "lost its job (it was reclaimed)" in outcome.detail
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert (done.status, done.method, done.attempts) == ("delivered", "push", 1)
