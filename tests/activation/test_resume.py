"""A paused campaign, resumed over HTTP, reaches the channels its pause stopped: the
resume queues those channels' exports again (the server's worker runs them), and a
channel that had its file already is not sent it twice."""

from __future__ import annotations

import time
import uuid

import pytest

from endcap.activation.models import ActivationStatus
from endcap.activation.schemas import ActivationPublic
from endcap.client import EndcapClient
from endcap.config import Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.errors import ConflictError
from endcap.marketplace.models import CampaignStatus
from endcap.privacy.channels import Channel
from tests.activation.data import add_activation, build_shop, set_endpoint
from tests.activation.run import activation, export

SENT = Channel.INSTORE_SCREEN  # delivered before the pause
STOPPED = Channel.COUPON  # its export ran while the campaign was paused


def by_channel(admin: EndcapClient, campaign_id: uuid.UUID) -> dict[str, list[ActivationPublic]]:
    found: dict[str, list[ActivationPublic]] = {}
    for item in admin.activations(campaign_id).items:
        found.setdefault(item.channel, []).append(item)
    return found


def settled(admin: EndcapClient, activation_id: uuid.UUID, timeout: float = 60) -> ActivationPublic:
    deadline = time.monotonic() + timeout
    while (read := admin.activation(activation_id)).status in (
        ActivationStatus.QUEUED,
        ActivationStatus.RUNNING,
    ):
        assert time.monotonic() < deadline, f"activation {activation_id} is still {read.status}"
        time.sleep(0.1)
    return read


async def test_a_resume_queues_the_exports_the_pause_stopped_and_only_those(
    sessions: SessionFactory, settings: Settings, admin: EndcapClient
) -> None:
    shop = await build_shop(
        sessions, shoppers=60, channels=(SENT, STOPPED), status=CampaignStatus.LIVE
    )
    for channel in (SENT, STOPPED):
        await set_endpoint(sessions, channel, None)  # the file drop
    sent = await add_activation(sessions, shop, SENT)
    await export(sessions, settings, sent)
    admin.act(shop.campaign.id, "pause")
    stopped = await add_activation(sessions, shop, STOPPED)
    with pytest.raises(ConflictError, match="paused"):
        await export(sessions, settings, stopped)
    assert (await activation(sessions, stopped)).status == ActivationStatus.FAILED

    resumed = admin.act(shop.campaign.id, "resume")

    assert resumed.status == CampaignStatus.LIVE
    channels = by_channel(admin, shop.campaign.id)
    assert [a.id for a in channels[SENT.value]] == [sent]  # not sent again
    first, again = channels[STOPPED.value]
    assert (first.id, first.status) == (stopped, ActivationStatus.FAILED)
    done = settled(admin, again.id)
    reachable = set(shop.treated()) & shop.consented[Purpose.TARGETING_ONSITE]
    assert (done.status, done.exported) == (ActivationStatus.DELIVERED, len(reachable))
    assert len(reachable) > 0


async def test_a_resume_with_every_file_out_queues_nothing(
    sessions: SessionFactory, settings: Settings, admin: EndcapClient
) -> None:
    shop = await build_shop(sessions, shoppers=40, channels=(SENT,), status=CampaignStatus.LIVE)
    await set_endpoint(sessions, SENT, None)
    sent = await add_activation(sessions, shop, SENT)
    await export(sessions, settings, sent)
    admin.act(shop.campaign.id, "pause")

    admin.act(shop.campaign.id, "resume")

    assert [a.id for a in admin.activations(shop.campaign.id).items] == [sent]
