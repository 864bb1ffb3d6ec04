"""An export holds its channel for as long as it runs, even where the database ends
transactions that sit idle: its hold is idle by design while the file is pushed.

On a database of this module's own, whose ``idle_in_transaction_session_timeout`` is one
second (production databases often carry one, to free pooled connections): were the
hold ended by it, the lock would go with it, silently, and a second export on the channel
would check the limit before the first had recorded whom it reached.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlparse

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from endcap.activation.contacts import ChannelHoldLostError
from endcap.activation.delivery import DeliveryFailedError
from endcap.activation.jobs import run_export
from endcap.activation.models import ActivationContact, ActivationStatus
from endcap.activation.repository import channel_lock_key
from endcap.activation.service import EXPORT_JOB
from endcap.config import DatabaseSettings, Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory, create_engine, create_session_factory
from endcap.jobs.models import Job
from endcap.privacy.channels import Channel
from tests.activation import data
from tests.activation.data import Shop, add_activation, build_shop, rival, set_limit
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export
from tests.activation.test_pressure import flight_from
from tests.support import databases

pytestmark = pytest.mark.postgres

IDLE_TIMEOUT = "1s"
PUSH_SECONDS = 2.5  # each push takes this long: well past the idle timeout


@pytest.fixture(scope="module")
def idle_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with databases.migrated_database(
        backend, lambda: tmp_path_factory.mktemp("idle-db"), "endcap_test_idle"
    ) as url:
        name = urlparse(url).path.lstrip("/")
        databases.run_sql(
            databases.POSTGRES_ADMIN_URL,
            f"ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '{IDLE_TIMEOUT}'",
        )
        yield url


@pytest.fixture(scope="module")
async def idle_sessions(idle_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(DatabaseSettings(url=idle_url))
    yield create_session_factory(engine)
    await engine.dispose()


async def contacts_of(sessions: SessionFactory, activation_id: uuid.UUID) -> set[int]:
    async with sessions() as session:
        query = select(ActivationContact.profile_id).where(
            col(ActivationContact.activation_id) == activation_id
        )
        return set((await session.execute(query)).scalars().all())


def reachable(shop: Shop) -> set[int]:
    return set(shop.treated()) & shop.consented[Purpose.TARGETING_ONSITE]


async def test_a_slow_push_keeps_the_channel_held_past_the_idle_timeout(
    idle_sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    sessions = idle_sessions
    async with sessions() as session:  # the database really ends idle transactions
        shown = await session.execute(text("SHOW idle_in_transaction_session_timeout"))
        assert shown.scalar_one() == IDLE_TIMEOUT
    receiver.behaviour.delay_seconds = PUSH_SECONDS
    shop = await build_shop(sessions, channels=(Channel.COUPON,), flight=flight_from(40))
    other = await rival(sessions, shop, flight_from(41), channels=(Channel.COUPON,))
    await set_limit(sessions, Channel.COUPON, 3)  # 2 + 2 in the shared week is one too many
    await data.set_endpoint(sessions, Channel.COUPON, receiver.url)
    first = await add_activation(sessions, shop, Channel.COUPON)
    second = await add_activation(sessions, other, Channel.COUPON)

    outcomes = await asyncio.gather(
        export(sessions, settings, first),
        export(sessions, settings, second),
        return_exceptions=True,
    )

    sent = {a: await contacts_of(sessions, a) for a in (first, second)}
    done = {a: await activation(sessions, a) for a in (first, second)}
    shared = reachable(shop) & reachable(other)
    assert len(shared) > 50
    assert not sent[first] & sent[second]  # nobody gets 2 + 2 in one week
    assert outcomes == [None, None]  # and the hold ended as it should, not by the server
    assert len(receiver.requests) == 2
    assert sorted(d.pressure_excluded or 0 for d in done.values()) == [0, len(shared)]
    assert {d.status for d in done.values()} == {ActivationStatus.DELIVERED}


def end_the_hold(database_url: str, channel: Channel) -> None:
    """End the session holding ``channel`` as an administrator (or a failover) would: in
    this database only, never another test run's or a benchmark's on the same server."""
    key = channel_lock_key(channel.value)
    sql = (
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"  # noqa: S608
        f" AND granted AND classid = 0 AND objid::bigint = {key:d} AND objsubid = 1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    ended = threading.Thread(target=databases.run_sql, args=(database_url, sql))
    ended.start()
    ended.join()


async def pushing(
    sessions: SessionFactory,
    settings: Settings,
    receiver: ChannelReceiver,
    weeks_ahead: int,
    *,
    fail_first: int,
) -> tuple[uuid.UUID, asyncio.Task[None]]:
    """A fresh shop's export on ONSITE_DISPLAY, started, pushing to ``receiver``, which
    holds its answers (the first ``fail_first`` of them 503)."""
    shop = await build_shop(
        sessions, channels=(Channel.ONSITE_DISPLAY,), flight=flight_from(weeks_ahead)
    )
    await data.set_endpoint(sessions, Channel.ONSITE_DISPLAY, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)
    receiver.behaviour.fail_first = fail_first
    receiver.hold()
    return activation_id, asyncio.create_task(export(sessions, settings, activation_id))


async def test_a_hold_ended_while_the_file_is_written_sends_nothing(
    idle_sessions: SessionFactory, idle_url: str, settings: Settings, receiver: ChannelReceiver
) -> None:
    sessions = idle_sessions
    shop = await build_shop(sessions, channels=(Channel.ONSITE_DISPLAY,), flight=flight_from(42))
    await data.set_endpoint(sessions, Channel.ONSITE_DISPLAY, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)
    calls: list[tuple[int, int | None]] = []

    def progress(done: int, total: int | None) -> None:
        if not calls:  # the file is being written, under the hold
            end_the_hold(idle_url, Channel.ONSITE_DISPLAY)
        calls.append((done, total))

    job = Job(kind=EXPORT_JOB, params={"activation_id": str(activation_id)})
    with pytest.raises(ChannelHoldLostError, match="lost its hold on the onsite_display channel"):
        await run_export(sessions, settings, job, progress)

    done = await activation(sessions, activation_id)
    assert calls  # the export did get as far as writing
    assert receiver.requests == []
    assert done.status == ActivationStatus.FAILED
    assert "nothing was sent" in (done.error or "")
    assert done.exported is None
    assert await contacts_of(sessions, activation_id) == set()


async def test_a_hold_ended_during_a_failed_push_is_not_tried_again(
    idle_sessions: SessionFactory, idle_url: str, settings: Settings, receiver: ChannelReceiver
) -> None:
    sessions = idle_sessions
    activation_id, exporting = await pushing(sessions, settings, receiver, 43, fail_first=1)
    await asyncio.to_thread(receiver.wait_for, 1)  # the first attempt is in flight
    await asyncio.to_thread(end_the_hold, idle_url, Channel.ONSITE_DISPLAY)
    receiver.release()  # ... and answers 503

    with pytest.raises(DeliveryFailedError, match="lost its hold on the onsite_display channel"):
        await exporting

    done = await activation(sessions, activation_id)
    assert len(receiver.requests) == 1
    assert done.status == ActivationStatus.FAILED
    assert await contacts_of(sessions, activation_id) == set()


async def test_a_hold_ended_after_the_channel_took_the_file_leaves_it_delivered(
    idle_sessions: SessionFactory, idle_url: str, settings: Settings, receiver: ChannelReceiver
) -> None:
    sessions = idle_sessions
    activation_id, exporting = await pushing(sessions, settings, receiver, 44, fail_first=0)
    await asyncio.to_thread(receiver.wait_for, 1)  # the channel has the file
    await asyncio.to_thread(end_the_hold, idle_url, Channel.ONSITE_DISPLAY)
    receiver.release()  # ... and answers 200

    await exporting  # the job succeeds: the file went out, and that is what is recorded

    done = await activation(sessions, activation_id)
    assert done.status == ActivationStatus.DELIVERED
    assert len(receiver.requests) == 1
    assert len(await contacts_of(sessions, activation_id)) == done.exported > 0
