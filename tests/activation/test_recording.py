"""A delivery that cannot be recorded after the channel took the file: the activation
ends failed, saying where the file went, and is never sent again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from endcap.activation.jobs import RECORD_ATTEMPTS, DeliveryUnrecordedError
from endcap.activation.models import ActivationStatus
from endcap.activation.steps import SPOOL_FOLDER
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.errors import ConflictError
from endcap.privacy.channels import Channel
from tests.activation.data import add_activation, build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export


async def test_a_delivery_that_cannot_be_recorded_fails_naming_where_it_went_and_is_not_resent(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.COUPON)
    receiver.hold()

    running = asyncio.create_task(export(sessions, settings, activation_id))
    await asyncio.to_thread(receiver.wait_for, 1)
    # Whom the file reached is recorded from this file once the channel answers: lose it.
    spool = Path(settings.activation.drop_dir) / SPOOL_FOLDER
    [contacts] = spool.glob(f"{activation_id}-*.contacts")
    contacts.unlink()
    receiver.release()
    with pytest.raises(DeliveryUnrecordedError) as unrecorded:
        await running

    failed = await activation(sessions, activation_id)
    exported = receiver.requests[0].body.count(b"\n") - 1
    assert failed.status == ActivationStatus.FAILED
    assert failed.error == unrecorded.value.detail
    assert failed.error.startswith(
        f"the file was delivered (push to {receiver.url}, taken on attempt 1) but recording"
        f" the delivery failed {RECORD_ATTEMPTS} times (FileNotFoundError:"
    )
    assert failed.error.endswith(
        f"it is not sent again, and the {exported} shoppers it reached do not count against"
        " the channel's contact limit; check with the channel before exporting anew"
    )
    assert (failed.attempts, failed.exported, failed.finished_at is not None) == (1, None, True)

    # A run of the same export again (a retry) sends nothing and keeps the reason.
    with pytest.raises(ConflictError, match="failed already"):
        await export(sessions, settings, activation_id)
    assert len(receiver.requests) == 1
    assert (await activation(sessions, activation_id)).error == failed.error
