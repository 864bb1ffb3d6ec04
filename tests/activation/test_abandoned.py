"""An activation whose worker died follows its reclaimed job, seen over HTTP: exported again
and delivered once, or failed with nothing counted as delivered, never sent twice.

Each test leaves the rows as a worker killed mid-export leaves them (job running, its
heartbeat long silent), reclaims as a worker does, and lets the server's worker run
whatever went back to the queue.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from endcap.activation import jobs as activation_jobs
from endcap.activation.models import Activation, ActivationStatus
from endcap.activation.service import EXPORT_JOB
from endcap.activation.steps import SPOOL_FOLDER, ExportSteps
from endcap.client import EndcapClient
from endcap.config import Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.errors import ConflictError
from endcap.jobs.models import Job, JobStatus
from endcap.jobs.reclaim import ON_ABANDONED, Reclaim
from endcap.jobs.worker import Worker
from endcap.marketplace.models import CampaignStatus
from endcap.privacy.channels import Channel
from tests.activation.data import Shop, add_activation, build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export

SILENT_FOR = timedelta(minutes=10)  # far past the default 60 s lease
ABANDONED = "abandoned: the worker running it stopped responding (3 attempts)"


async def left_by_a_dead_worker(
    sessions: SessionFactory, shop: Shop, *, run: int, **activation: Any
) -> tuple[uuid.UUID, uuid.UUID]:
    """An activation and its export job as a worker killed during the job's run number
    ``run`` leaves them; the activation running unless ``activation`` says otherwise."""
    async with sessions() as session:
        row = Activation(
            campaign_id=shop.campaign.id,
            channel=shop.campaign.channels[0],
            **{"status": ActivationStatus.RUNNING, **activation},
        )
        session.add(row)
        await session.flush()
        job = Job(
            kind=EXPORT_JOB,
            params={"activation_id": str(row.id)},
            status=JobStatus.RUNNING,
            attempts=run,
            started_at=utcnow() - SILENT_FOR,
            heartbeat_at=utcnow() - SILENT_FOR,
        )
        row.job_id = job.id
        session.add(job)
        await session.commit()
    return row.id, job.id


async def reclaim(sessions: SessionFactory, settings: Settings) -> None:
    # On PostgreSQL the server's own worker may get there first; the outcome is the same.
    assert ON_ABANDONED[EXPORT_JOB] is activation_jobs.on_abandoned
    await Worker(sessions, settings).reclaim_abandoned(at_start=True)


def read(client: EndcapClient, activation_id: uuid.UUID) -> dict[str, Any]:
    body: dict[str, Any] = client.request("GET", f"/api/v1/activations/{activation_id}").json()
    return body


async def test_abandoned_on_its_last_attempt_it_ends_failed_with_nothing_delivered(
    sessions: SessionFactory,
    settings: Settings,
    admin: EndcapClient,
    brand: EndcapClient,
    brand_partner_id: uuid.UUID,
    receiver: ChannelReceiver,
) -> None:
    shop = await build_shop(
        sessions, shoppers=40, channels=(Channel.COUPON,), partner_id=brand_partner_id
    )
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id, job_id = await left_by_a_dead_worker(sessions, shop, run=3)

    await reclaim(sessions, settings)
    job = admin.wait(job_id, timeout=30)

    seen, brand_seen = read(admin, activation_id), read(brand, activation_id)
    assert (job.status, job.error, job.attempts) == ("failed", ABANDONED, 3)
    assert (seen["status"], seen["error"], seen["exported"]) == ("failed", ABANDONED, None)
    assert (seen["method"], seen["destination"], seen["finished_at"] is not None) == (
        None,
        None,
        True,
    )
    assert (brand_seen["status"], brand_seen["exported"], brand_seen["error"]) == (
        "failed",
        None,
        None,
    )
    assert receiver.requests == []


async def test_abandoned_while_writing_its_file_it_is_exported_again_and_delivered_once(
    sessions: SessionFactory,
    settings: Settings,
    admin: EndcapClient,
    receiver: ChannelReceiver,
    server_drop_dir: Path,
) -> None:
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id, job_id = await left_by_a_dead_worker(sessions, shop, run=1)
    spool = server_drop_dir / SPOOL_FOLDER
    spool.mkdir(parents=True, exist_ok=True)
    half_written = spool / f"{activation_id}-dead"
    half_written.write_text("profile_id\n1\n")

    await reclaim(sessions, settings)
    job = admin.wait(job_id, timeout=60)

    seen = read(admin, activation_id)
    expected = [p for p in shop.treated() if p in shop.consented[Purpose.TARGETING_ONSITE]]
    assert (job.status, job.attempts, job.error) == ("succeeded", 2, None)
    assert (seen["status"], seen["method"], seen["exported"]) == (
        "delivered",
        "push",
        len(expected),
    )
    assert len(receiver.requests) == 1
    assert receiver.requests[0].body.decode().split() == ["profile_id", *map(str, expected)]
    assert not half_written.exists()


async def test_abandoned_while_sending_it_is_failed_and_not_sent_again(
    sessions: SessionFactory,
    settings: Settings,
    admin: EndcapClient,
    receiver: ChannelReceiver,
) -> None:
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id, job_id = await left_by_a_dead_worker(
        sessions, shop, run=1, method="push", destination=receiver.url
    )

    await reclaim(sessions, settings)
    job = admin.wait(job_id, timeout=30)

    seen = read(admin, activation_id)
    assert (job.status, job.attempts) == ("failed", 1)
    assert job.error == (
        "abandoned: the worker stopped responding while sending it"
        f" (push to {receiver.url}); it may have arrived, so it is not sent again:"
        " check with the channel before exporting anew"
    )
    assert (seen["status"], seen["error"], seen["exported"]) == ("failed", job.error, None)
    assert receiver.requests == []


async def test_delivered_before_its_worker_died_it_is_not_sent_again(
    sessions: SessionFactory,
    settings: Settings,
    admin: EndcapClient,
    receiver: ChannelReceiver,
) -> None:
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id, job_id = await left_by_a_dead_worker(
        sessions,
        shop,
        run=1,
        status=ActivationStatus.DELIVERED,
        method="push",
        destination=receiver.url,
        members=35,
        exported=18,
        attempts=1,
    )

    await reclaim(sessions, settings)
    job = admin.wait(job_id, timeout=60)

    seen = read(admin, activation_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert job.message == "18 exported to coupon by push"
    assert (seen["status"], seen["exported"], seen["attempts"]) == ("delivered", 18, 1)
    assert receiver.requests == []


async def test_failed_as_abandoned_its_spool_files_are_removed(
    sessions: SessionFactory, settings: Settings
) -> None:
    """A dead run's spool files hold shoppers' ids; failed, no re-run would clear them and
    no erasure looks there. Another activation's are left alone."""
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    async with sessions() as session:
        row = Activation(
            campaign_id=shop.campaign.id,
            channel=shop.campaign.channels[0],
            status=ActivationStatus.RUNNING,
        )
        session.add(row)
        await session.commit()
    spool = Path(settings.activation.drop_dir) / SPOOL_FOLDER
    spool.mkdir(parents=True)
    left = [spool / f"{row.id}-k2j4", spool / f"{row.id}-k2j4.contacts"]
    other = spool / f"{uuid.uuid4()}-x9q1"
    for path in (*left, other):
        path.write_text("profile_id\n7\n", encoding="utf-8")

    async with sessions() as session:
        verdict = await ExportSteps(session, settings).abandoned(row.id, Reclaim(ABANDONED))
        await session.commit()

    assert verdict.error == ABANDONED
    async with sessions() as session:
        found = await session.get(Activation, row.id)
        assert found is not None
        assert found.status == ActivationStatus.FAILED
    assert sorted(spool.iterdir()) == [other]


async def test_its_rerun_failing_before_it_writes_removes_the_dead_runs_spool_files(
    sessions: SessionFactory, settings: Settings
) -> None:
    """Re-queued after its worker died, the export runs again, but its campaign was
    cancelled meanwhile: it fails at the start, and the dead run's files go with it."""
    shop = await build_shop(
        sessions, shoppers=40, channels=(Channel.COUPON,), status=CampaignStatus.CANCELLED
    )
    activation_id = await add_activation(sessions, shop, Channel.COUPON)
    spool = Path(settings.activation.drop_dir) / SPOOL_FOLDER
    spool.mkdir(parents=True)
    left = spool / f"{activation_id}-p3v8"
    left.write_text("profile_id\n7\n", encoding="utf-8")

    with pytest.raises(ConflictError):
        await export(sessions, settings, activation_id)

    assert (await activation(sessions, activation_id)).status == ActivationStatus.FAILED
    assert list(spool.iterdir()) == []
