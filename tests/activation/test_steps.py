"""The steps of one export, in a transaction rolled back after each test: the last check
before the file leaves Endcap (the run's claim on its job, a run that began sending
before, the campaign's state), and what a run that lost its job may still write."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.delivery import Delivered
from endcap.activation.models import Activation, ActivationStatus
from endcap.activation.service import ActivationService
from endcap.activation.steps import ExportSteps, RunSupersededError
from endcap.config import Settings
from endcap.errors import ConflictError
from endcap.jobs.models import Job, JobStatus
from endcap.marketplace.models import Campaign, CampaignStatus
from tests.activation.test_service import ADMIN, campaign

ROUTE = Delivered("push", "http://channel.test/ingest", 0)


async def claimed_export(
    session: AsyncSession, settings: Settings, status: CampaignStatus = CampaignStatus.SCHEDULED
) -> tuple[Campaign, uuid.UUID, Job]:
    """A campaign's first activation, its job claimed as a worker claims it, and the job as
    that worker holds it (its own copy: what it knows of its claim)."""
    row = await campaign(session, status)
    (queued, *_) = await ActivationService(session, settings).enqueue(row, ADMIN.key_id)
    job = await session.get(Job, queued.job_id)
    assert job is not None
    job.status, job.attempts = JobStatus.RUNNING, 1
    await session.flush()
    return row, queued.id, Job(id=job.id, kind=job.kind, params=job.params, attempts=1)


async def read(session: AsyncSession, activation_id: uuid.UUID) -> Activation:
    row = await session.get(Activation, activation_id, populate_existing=True)
    assert row is not None
    return row


async def test_a_run_whose_job_was_reclaimed_neither_sends_nor_fails_the_activation(
    session: AsyncSession, settings: Settings
) -> None:
    _row, activation_id, run = await claimed_export(session, settings)
    steps = ExportSteps(session, settings)
    plan = await steps.start(activation_id, run)

    # Reclaimed and claimed again by another worker while this run wrote its file.
    await session.execute(update(Job).where(col(Job.id) == run.id).values(attempts=2))
    with pytest.raises(RunSupersededError, match="lost its job"):
        await steps.sending(plan, ROUTE, run)
    assert not await steps.fail(activation_id, "stale", attempts=0, counts=None, run=run)

    left = await read(session, activation_id)
    assert (left.status, left.method, left.error) == (ActivationStatus.RUNNING, None, None)


async def test_a_run_does_not_send_what_another_run_began_sending(
    session: AsyncSession, settings: Settings
) -> None:
    _row, activation_id, run = await claimed_export(session, settings)
    steps = ExportSteps(session, settings)
    plan = await steps.start(activation_id, run)
    # A run that lost its job had got as far as this before it did.
    await session.execute(
        update(Activation)
        .where(col(Activation.id) == activation_id)
        .values(method="push", destination="http://channel.test/ingest")
    )

    with pytest.raises(ConflictError, match="it may have arrived, so it is not sent again"):
        await steps.sending(plan, ROUTE, run)
    with pytest.raises(ConflictError, match="another run began sending"):
        await steps.start(activation_id, run)
    assert (await read(session, activation_id)).destination == "http://channel.test/ingest"


@pytest.mark.parametrize(
    "status", [CampaignStatus.CANCELLED, CampaignStatus.PAUSED, CampaignStatus.COMPLETED]
)
async def test_a_campaign_that_stopped_while_its_file_was_written_is_not_sent(
    session: AsyncSession, settings: Settings, status: CampaignStatus
) -> None:
    row, activation_id, run = await claimed_export(session, settings, CampaignStatus.LIVE)
    steps = ExportSteps(session, settings)
    plan = await steps.start(activation_id, run)
    await steps.recheck(plan)  # still live: goes on

    row.status = status
    await session.flush()
    expected = f"campaign {row.id} was {status.value} before its file went out"
    with pytest.raises(ConflictError, match=expected) as stopped:
        await steps.recheck(plan)
    with pytest.raises(ConflictError, match=f"{expected}: nothing was delivered"):
        await steps.sending(plan, ROUTE, run)
    assert stopped.value.status_code == 409
    assert (await read(session, activation_id)).method is None
