"""An erasure that lands while an export's file is still in the spool (its members were
read before it): the file reaches the drop folder, or the channel's endpoint, without the
erased shopper's profile id or hashed e-mail and phone, and with every other row."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from endcap.activation import jobs
from endcap.activation.delivery import Delivered, Parcel
from endcap.activation.steps import SPOOL_FOLDER, ExportSteps
from endcap.config import ActivationSettings, Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.privacy.channels import Channel
from endcap.privacy.schemas import Tombstone
from tests.activation.data import Shop, add_activation, build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export, rows
from tests.activation.test_cancel import lock_waits
from tests.activation.test_erasure_in_drop import erase, reached_everywhere
from tests.activation.test_merges import contacts_of, files_reaching

PURPOSE = {
    Channel.ONSITE_DISPLAY: Purpose.TARGETING_ONSITE,
    Channel.OFFSITE_SOCIAL: Purpose.TARGETING_OFFSITE,
}


def expected_rows(shop: Shop, channel: Channel, left_out: int) -> list[list[str]]:
    """The file as the export writes it, known from the shop alone, without ``left_out``."""
    sent = [p for p in shop.treated() if p in shop.consented[PURPOSE[channel]] and p != left_out]
    if channel is Channel.ONSITE_DISPLAY:
        return [["profile_id"], *[[str(p)] for p in sent]]
    return [["key_type", "sha256"], *[list(key) for p in sent for key in sorted(shop.keys[p])]]


def reachable(shop: Shop, channel: Channel) -> set[int]:
    """Whom the file reaches: off-site, only shoppers with an e-mail or phone."""
    sent = {p for p in shop.treated() if p in shop.consented[PURPOSE[channel]]}
    return sent if channel is Channel.ONSITE_DISPLAY else {p for p in sent if shop.keys[p]}


def erase_before_sending(
    monkeypatch: pytest.MonkeyPatch,
    sessions: SessionFactory,
    settings: Settings,
    shop: Shop,
    erased: int,
) -> list[Tombstone]:
    """Erase ``erased`` once the export has read its members and written its spool file,
    just before it records where the file goes; the tombstone lands in the list."""
    done: list[Tombstone] = []
    sending = ExportSteps.sending

    async def erase_first(steps: ExportSteps, *args: Any) -> None:
        assert len(list(spool(settings).glob("*.contacts"))) == 1  # the read is over
        done.append(await erase(sessions, settings, shop, erased))
        await sending(steps, *args)

    monkeypatch.setattr(ExportSteps, "sending", erase_first)
    return done


def spool(settings: Settings) -> Path:
    return Path(settings.activation.drop_dir) / SPOOL_FOLDER


@pytest.mark.parametrize("channel", [Channel.ONSITE_DISPLAY, Channel.OFFSITE_SOCIAL])
async def test_a_shopper_erased_after_the_read_is_not_in_the_dropped_file(
    sessions: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    channel: Channel,
) -> None:
    shop = await build_shop(sessions, channels=(channel,))
    await set_endpoint(sessions, channel, None)
    erased = reached_everywhere(shop)
    hashes = {sha for _type, sha in shop.keys[erased]}
    assert len(hashes) == 3  # an e-mail, and a phone on each of two records
    activation_id = await add_activation(sessions, shop, channel)
    tombstones = erase_before_sending(monkeypatch, sessions, settings, shop, erased)

    await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    assert done.destination is not None
    written = rows(Path(done.destination))
    [tombstone] = tombstones
    assert tombstone.activation_files_scrubbed == 0  # the file was not in the drop yet
    assert written == expected_rows(shop, channel, erased)
    with_erased = expected_rows(shop, channel, left_out=-1)
    if channel is Channel.ONSITE_DISPLAY:
        assert [str(erased)] not in written
        assert len(written) == len(with_erased) - 1
    else:
        assert not hashes & {sha for _type, sha in written[1:]}
        assert len(written) == len(with_erased) - 3
    # The counts say what the export read; whom it reached leaves the erased out.
    assert done.exported == len(reachable(shop, channel))
    assert await contacts_of(sessions, activation_id) == reachable(shop, channel) - {erased}
    assert await files_reaching(sessions, erased) == []
    assert list(spool(settings).iterdir()) == []


async def test_a_push_leaves_out_a_shopper_erased_after_the_read(
    sessions: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    receiver: ChannelReceiver,
) -> None:
    channel = Channel.OFFSITE_SOCIAL
    shop = await build_shop(sessions, channels=(channel,))
    await set_endpoint(sessions, channel, receiver.url)
    erased = reached_everywhere(shop)
    activation_id = await add_activation(sessions, shop, channel)
    erase_before_sending(monkeypatch, sessions, settings, shop, erased)

    await export(sessions, settings, activation_id)

    [request] = receiver.requests
    pushed = [line.split(",") for line in request.body.decode().splitlines()]
    expected = expected_rows(shop, channel, erased)
    assert pushed == expected
    assert len(pushed) == len(expected_rows(shop, channel, left_out=-1)) - 3
    assert (await activation(sessions, activation_id)).method == "push"


async def test_a_push_retried_after_an_erasure_leaves_the_erased_shopper_out(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    """The first attempt holds the shopper and is answered 503; the erasure lands before
    the retry, which sends the file without them: nothing delivered held them."""
    channel = Channel.OFFSITE_SOCIAL
    shop = await build_shop(sessions, channels=(channel,))
    await set_endpoint(sessions, channel, receiver.url)
    erased = reached_everywhere(shop)
    activation_id = await add_activation(sessions, shop, channel)
    receiver.behaviour.fail_first = 1
    receiver.hold()

    running = asyncio.create_task(export(sessions, settings, activation_id))
    await asyncio.to_thread(receiver.wait_for, 1)  # the first attempt is in flight
    await erase(sessions, settings, shop, erased)
    receiver.release()  # ... and answered 503
    await running

    first, second = (
        [r.split(",") for r in q.body.decode().splitlines()] for q in receiver.requests
    )
    assert first == expected_rows(shop, channel, left_out=-1)
    assert second == expected_rows(shop, channel, erased)
    assert len(second) == len(first) - 3  # the e-mail and the two phones
    assert (await activation(sessions, activation_id)).attempts == 2


@pytest.mark.postgres  # waits on the profile-moves lock, which SQLite does not have
@pytest.mark.parametrize("channel", [Channel.ONSITE_DISPLAY, Channel.OFFSITE_SOCIAL])
async def test_an_erasure_as_the_file_is_moved_waits_for_it_and_then_rewrites_it(
    sessions: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    channel: Channel,
) -> None:
    """The erasure comes after the export's last look at who is gone, before the move: it
    waits for the move, and then finds the file in the drop and rewrites it."""
    shop = await build_shop(sessions, channels=(channel,))
    await set_endpoint(sessions, channel, None)
    erased = reached_everywhere(shop)
    activation_id = await add_activation(sessions, shop, channel)
    erasing: list[asyncio.Task[Tombstone]] = []
    deliver = jobs.deliver

    async def erase_meanwhile(
        parcel: Parcel, endpoint_url: str | None, settings_: ActivationSettings, *args: Any
    ) -> Delivered:
        erasing.append(asyncio.create_task(erase(sessions, settings, shop, erased)))
        deadline = time.monotonic() + 30
        while not erasing[0].done() and not await lock_waits(sessions):
            assert time.monotonic() < deadline, "the erasure neither waited nor finished"
            await asyncio.sleep(0.02)
        return await deliver(parcel, endpoint_url, settings_, *args)

    monkeypatch.setattr(jobs, "deliver", erase_meanwhile)

    await export(sessions, settings, activation_id)
    tombstone = await asyncio.wait_for(erasing[0], 30)

    done = await activation(sessions, activation_id)
    assert done.destination is not None
    assert tombstone.activation_files_scrubbed == 1
    assert rows(Path(done.destination)) == expected_rows(shop, channel, erased)
    assert await contacts_of(sessions, activation_id) == reachable(shop, channel) - {erased}
