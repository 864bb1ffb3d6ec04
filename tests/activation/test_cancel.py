"""A campaign cancelled (or paused) while its export runs: before the file goes out nothing
is sent and the activation says why; after it went out the activation says delivered,
because it was. The cancel comes over HTTP, as a brand's or the retailer's would."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import text

from endcap.activation.delivery import DeliveryFailedError
from endcap.activation.models import ActivationStatus
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.client import EndcapClient
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.errors import ConflictError
from endcap.marketplace.lifecycle import Action
from endcap.marketplace.models import CampaignStatus
from endcap.marketplace.service import CampaignService
from endcap.privacy.channels import Channel
from tests.activation.data import Shop, add_activation, build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export

RETAILER = Principal(key_id=uuid.uuid4(), role=Role.RETAILER_ADMIN, partner_id=None)


async def pushing(
    sessions: SessionFactory, status: CampaignStatus, receiver: ChannelReceiver
) -> tuple[Shop, uuid.UUID]:
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,), status=status)
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    return shop, await add_activation(sessions, shop, Channel.COUPON)


@pytest.mark.parametrize(
    ("status", "action", "ended"),
    [(CampaignStatus.APPROVED, "cancel", "cancelled"), (CampaignStatus.LIVE, "pause", "paused")],
)
async def test_a_campaign_stopped_while_a_failed_push_waits_for_its_retry_is_not_tried_again(
    sessions: SessionFactory,
    settings: Settings,
    admin: EndcapClient,
    receiver: ChannelReceiver,
    status: CampaignStatus,
    action: str,
    ended: str,
) -> None:
    shop, activation_id = await pushing(sessions, status, receiver)
    receiver.behaviour.fail_first = 1
    receiver.hold()

    running = asyncio.create_task(export(sessions, settings, activation_id))
    await asyncio.to_thread(receiver.wait_for, 1)  # the first attempt is in flight
    stopped = await asyncio.to_thread(admin.act, shop.campaign.id, action)
    receiver.release()  # ... and answers 503
    with pytest.raises(DeliveryFailedError) as failed:
        await running

    done = await activation(sessions, activation_id)
    expected = (
        f"channel endpoint {receiver.url} answered 503 on attempt 1 and was not tried again:"
        f" campaign {shop.campaign.id} was {ended} before its file went out: nothing was delivered"
    )
    assert stopped.status == ended
    assert len(receiver.requests) == 1
    assert failed.value.detail == expected
    assert (done.status, done.error, done.attempts) == (ActivationStatus.FAILED, expected, 1)
    assert (done.method, done.exported) == (None, None)


@pytest.mark.postgres  # waits on the campaign's row lock, which SQLite does not have
async def test_a_cancel_in_flight_as_the_file_is_about_to_go_out_wins(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    shop, activation_id = await pushing(sessions, CampaignStatus.SCHEDULED, receiver)

    async with sessions() as cancelling:  # a cancel request, between its update and commit
        await CampaignService(cancelling, settings).transition(
            RETAILER, shop.campaign.id, Action.CANCEL
        )
        running = asyncio.create_task(export(sessions, settings, activation_id))
        deadline = time.monotonic() + 30
        while not running.done() and not await lock_waits(sessions):
            assert time.monotonic() < deadline, "the export neither waited nor finished"
            await asyncio.sleep(0.02)
        await cancelling.commit()
    with pytest.raises(ConflictError) as refused:
        await running

    done = await activation(sessions, activation_id)
    expected = f"campaign {shop.campaign.id} was cancelled before its file went out"
    assert receiver.requests == []
    assert refused.value.detail == f"{expected}: nothing was delivered"
    assert (done.status, done.error) == (ActivationStatus.FAILED, refused.value.detail)


async def lock_waits(sessions: SessionFactory) -> int:
    """Sessions of this database waiting for a lock another holds."""
    async with sessions() as session:
        waiting = await session.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return int(waiting.scalar_one())


async def test_a_cancel_after_the_file_went_out_leaves_it_delivered(
    sessions: SessionFactory,
    settings: Settings,
    admin: EndcapClient,
    receiver: ChannelReceiver,
) -> None:
    shop, activation_id = await pushing(sessions, CampaignStatus.SCHEDULED, receiver)
    receiver.hold()

    running = asyncio.create_task(export(sessions, settings, activation_id))
    await asyncio.to_thread(receiver.wait_for, 1)  # the channel has the file, not yet answered
    cancelled = await asyncio.to_thread(admin.act, shop.campaign.id, "cancel")
    receiver.release()
    await running

    done = await asyncio.to_thread(admin.activation, activation_id)
    assert cancelled.status == "cancelled"
    assert len(receiver.requests) == 1
    assert (done.status, done.method, done.error) == ("delivered", "push", None)
    assert done.exported == receiver.requests[0].body.count(b"\n") - 1
