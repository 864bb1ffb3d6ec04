"""Contacts follow shoppers through key-chain merges, over real HTTP: a merge loaded as an
identifiers file keeps the contact pressure of every record it joins, erasing the merged
shopper leaves none of their contacts behind, and records split off again keep them too.

A load re-resolves every customer record in its database, so this module has a database
and server of its own: the package's shops (whose shared family e-mail a resolution at
another threshold would merge) stay as built.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from endcap.activation.contacts import Contacts, follow_profiles
from endcap.activation.models import ActivationContact
from endcap.activation.repository import ActivationRepository
from endcap.auth.roles import Role
from endcap.client import EndcapClient
from endcap.config import DatabaseSettings, Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory, create_engine, create_session_factory
from endcap.db.types import utcnow
from endcap.identity.models import Customer
from endcap.marketplace.plan import week_start
from endcap.privacy.channels import Channel
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest
from tests.activation import data
from tests.activation.data import Shop, add_activation, build_shop, set_endpoint, set_limit
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export, rows
from tests.support import databases
from tests.support.keys import make_key
from tests.support.server import ServerProcess

CHANNEL = Channel.COUPON  # targeting_onsite, one profile id per row
LIMIT = 5  # contacts per shopper per week: two campaigns of 2 fit beside a third, not three


@pytest.fixture(scope="module")
def merge_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with databases.migrated_database(
        backend, lambda: tmp_path_factory.mktemp("merges-db"), "endcap_test_merges"
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def merge_sessions(merge_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(DatabaseSettings(url=merge_url))
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def merge_settings(settings: Settings, merge_url: str) -> Settings:
    """The package's export settings (a drop folder of the test's own), on this database."""
    settings.database = DatabaseSettings(url=merge_url)
    return settings


@pytest.fixture(scope="module")
def merge_admin(merge_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndcapClient]:
    folder = tmp_path_factory.mktemp("merges-server")
    env = {
        "ENDCAP_DATABASE_URL": merge_url,
        "ENDCAP_INGEST_SPOOL_DIR": str(folder / "uploads"),
        # The shops flag their family e-mail (on three records) shared; at the default of
        # five a load would unflag it and merge those shoppers too.
        "ENDCAP_IDENTITY_SHARED_IDENTIFIER_THRESHOLD": "2",
    }
    server = ServerProcess(env, folder / "server.log").start()
    key = asyncio.run(make_key(DatabaseSettings(url=merge_url), Role.RETAILER_ADMIN))
    with EndcapClient(server.base_url, key) as admin:
        yield admin
    server.stop()


@dataclass(frozen=True)
class Merged:
    """Campaign A's file reached ``survivor`` and ``same_file``, campaign B's ``other_file``;
    then a load joined the three into ``survivor``. The shop's own campaign (C) targets
    both audiences and is not exported yet."""

    shop: Shop
    a: uuid.UUID  # the delivered activations
    b: uuid.UUID
    survivor: int
    same_file: int
    other_file: int
    customer_ids: dict[int, str]  # the three profiles -> their one customer record each


async def merged(
    sessions: SessionFactory, settings: Settings, admin: EndcapClient, tmp_path: Path
) -> Merged:
    # Two disjoint audiences; A targets the first, B the second, the shop's C both, all
    # capped at 2 in the same two weeks ahead.
    monday = week_start(utcnow().date()) + timedelta(weeks=20)
    flight = data.Flight(monday, monday + timedelta(days=13), 2)
    shop = await build_shop(
        sessions,
        channels=(CHANNEL,),
        audiences=(slice(0, 120), slice(120, None)),
        flight=flight,
    )
    first, second = shop.audiences
    await set_limit(sessions, CHANNEL, LIMIT)
    a = await _campaign_on(sessions, shop, first, flight)
    b = await _campaign_on(sessions, shop, second, flight)
    for activation_id in (a, b):
        await export(sessions, settings, activation_id)
    reached_a, reached_b = await contacts_of(sessions, a), await contacts_of(sessions, b)
    single = await _single_record_customers(sessions, reached_a | reached_b)
    treated_by_c = set(shop.treated())
    survivor, same_file = sorted(p for p in reached_a if p in single and p in treated_by_c)[:2]
    other_file = min(p for p in reached_b if p in single)
    assert survivor < min(same_file, other_file)  # the lowest id survives a merge

    # Records chained by two new cards (each on two records, so under the threshold).
    path = tmp_path / "identifiers.csv"
    path.write_text(
        "customer_id,id_type,id_value\n"
        f"{single[survivor]},loyalty_card,join-{shop.tag}-1\n"
        f"{single[other_file]},loyalty_card,join-{shop.tag}-1\n"
        f"{single[other_file]},loyalty_card,join-{shop.tag}-2\n"
        f"{single[same_file]},loyalty_card,join-{shop.tag}-2\n",
        encoding="utf-8",
    )
    assert admin.wait(admin.upload("identifiers", path).id).status == "succeeded"
    chained = {p: single[p] for p in (survivor, same_file, other_file)}
    return Merged(shop, a, b, survivor, same_file, other_file, chained)


async def _campaign_on(
    sessions: SessionFactory, shop: Shop, audience_id: uuid.UUID, flight: data.Flight
) -> uuid.UUID:
    """Another partner's campaign on one of the shop's audiences, with a queued activation."""
    one = replace(shop, audiences={audience_id: shop.audiences[audience_id]})
    other = await data.rival(sessions, one, flight, channels=(CHANNEL,))
    return await add_activation(sessions, other, CHANNEL)


async def _single_record_customers(sessions: SessionFactory, profiles: set[int]) -> dict[int, str]:
    """Profile -> customer id, for those of ``profiles`` with one customer record."""
    async with sessions() as session:
        query = (
            select(Customer.profile_id, func.min(Customer.customer_id))
            .where(col(Customer.profile_id).in_(profiles))
            .group_by(col(Customer.profile_id))
            .having(func.count() == 1)
        )
        return {int(p): str(c) for p, c in (await session.execute(query)).all()}


async def contacts_of(sessions: SessionFactory, activation_id: uuid.UUID) -> set[int]:
    async with sessions() as session:
        query = select(ActivationContact.profile_id).where(
            col(ActivationContact.activation_id) == activation_id
        )
        return set((await session.execute(query)).scalars().all())


async def files_reaching(sessions: SessionFactory, *profiles: int) -> list[tuple[uuid.UUID, int]]:
    """Every (activation, profile) contact row of ``profiles``, sorted."""
    async with sessions() as session:
        query = select(ActivationContact.activation_id, ActivationContact.profile_id).where(
            col(ActivationContact.profile_id).in_(profiles)
        )
        return sorted((a, int(p)) for a, p in (await session.execute(query)).all())


async def test_a_merged_shopper_keeps_the_contacts_of_every_record_and_is_held_to_the_limit(
    merge_sessions: SessionFactory,
    merge_settings: Settings,
    merge_admin: EndcapClient,
    tmp_path: Path,
) -> None:
    m = await merged(merge_sessions, merge_settings, merge_admin, tmp_path)

    async with merge_sessions() as session:
        query = select(Customer.profile_id).where(
            col(Customer.customer_id).in_(m.customer_ids.values())
        )
        assert set((await session.execute(query)).scalars().all()) == {m.survivor}
    # A reached two of the records: one row for the survivor, not two, and none left behind.
    assert await files_reaching(merge_sessions, m.survivor, m.same_file, m.other_file) == sorted(
        [(m.a, m.survivor), (m.b, m.survivor)]
    )

    c = await add_activation(merge_sessions, m.shop, CHANNEL)
    await export(merge_sessions, merge_settings, c)

    # C's 2 beside A's 2 and B's 2 is 6 > 5: only the merged shopper is over the limit;
    # everyone else was reached by one of A and B (2 + 2 = 4) and is in C's file.
    sent = await contacts_of(merge_sessions, c)
    reachable = set(m.shop.treated()) & m.shop.consented[Purpose.TARGETING_ONSITE]
    assert m.survivor in reachable
    assert sent == reachable - {m.survivor, m.same_file, m.other_file}
    assert (await activation(merge_sessions, c)).pressure_excluded == 1


async def test_erasing_a_merged_shopper_leaves_none_of_their_contacts_behind(
    merge_sessions: SessionFactory,
    merge_settings: Settings,
    merge_admin: EndcapClient,
    tmp_path: Path,
) -> None:
    m = await merged(merge_sessions, merge_settings, merge_admin, tmp_path)

    reached = await contacts_of(merge_sessions, m.a) | await contacts_of(merge_sessions, m.b)

    tombstone = merge_admin.erase(customer_id=m.customer_ids[m.other_file])

    assert tombstone.customers_removed == 3  # the three records the merge joined
    assert await files_reaching(merge_sessions, m.survivor, m.same_file, m.other_file) == []
    # Everyone else A and B reached still counts.
    after = await contacts_of(merge_sessions, m.a) | await contacts_of(merge_sessions, m.b)
    assert after == reached - {m.survivor} != set()


async def test_erasing_a_merged_shopper_rewrites_files_that_name_them_by_a_merged_away_id(
    merge_sessions: SessionFactory,
    merge_settings: Settings,
    merge_admin: EndcapClient,
    tmp_path: Path,
) -> None:
    """A and B's files were dropped before the merge: they name the shopper by the three
    ids the merge joined, two of which it merged away."""
    m = await merged(merge_sessions, merge_settings, merge_admin, tmp_path)
    files = [Path(str((await activation(merge_sessions, x)).destination)) for x in (m.a, m.b)]
    before = [rows(path) for path in files]
    ids = {str(p) for p in (m.survivor, m.same_file, m.other_file)}
    assert {str(m.survivor), str(m.same_file)} <= {r[0] for r in before[0]}
    assert str(m.other_file) in {r[0] for r in before[1]}

    async with merge_sessions() as session:
        request = ErasureRequest(customer_id=m.customer_ids[m.other_file])
        tombstone = await ErasureService(session, merge_settings).erase(request, requested_by=None)
        await session.commit()

    assert tombstone.customers_removed == 3
    assert tombstone.activation_files_scrubbed == 2
    for path, rows_before in zip(files, before, strict=True):
        assert rows(path) == [r for r in rows_before if r[0] not in ids]
    assert len(rows(files[0])) == len(before[0]) - 2
    assert len(rows(files[1])) == len(before[1]) - 1


async def test_records_split_off_a_merged_shopper_keep_its_contacts_and_so_does_it(
    merge_sessions: SessionFactory,
    merge_settings: Settings,
    merge_admin: EndcapClient,
    tmp_path: Path,
) -> None:
    m = await merged(merge_sessions, merge_settings, merge_admin, tmp_path)
    # The first card on two more records is on four, over the threshold: shared, it links
    # nothing, and the two records the second card joins leave the survivor.
    path = tmp_path / "more.csv"
    path.write_text(
        "customer_id,id_type,id_value\n"
        f"{m.shop.tag}-c248,loyalty_card,join-{m.shop.tag}-1\n"
        f"{m.shop.tag}-c249,loyalty_card,join-{m.shop.tag}-1\n",
        encoding="utf-8",
    )

    assert merge_admin.wait(merge_admin.upload("identifiers", path).id).status == "succeeded"

    async with merge_sessions() as session:
        query = select(Customer.customer_id, Customer.profile_id).where(
            col(Customer.customer_id).in_(m.customer_ids.values())
        )
        profile_of = dict((await session.execute(query)).tuples().all())
    split_off = profile_of[m.customer_ids[m.other_file]]
    assert profile_of == {
        m.customer_ids[m.survivor]: m.survivor,
        m.customer_ids[m.other_file]: split_off,
        m.customer_ids[m.same_file]: split_off,
    }
    assert split_off != m.survivor
    # Contacts are kept per profile, not per record: which of the survivor's records A and B
    # reached is not known, so both sides keep both files (erring towards fewer contacts).
    assert await files_reaching(merge_sessions, m.survivor, split_off) == sorted(
        [(m.a, m.survivor), (m.b, m.survivor), (m.a, split_off), (m.b, split_off)]
    )


# -- a merge or an erasure while a file is out ------------------------------------------------

PUSHED = Channel.ONSITE_DISPLAY  # targeting_onsite, like CHANNEL; pushed to the receiver


@dataclass
class InFlight:
    """The shop's activation on ``PUSHED``: its file is with the channel, unanswered, so
    its contacts are not recorded yet; ``reachable`` is who the file holds."""

    shop: Shop
    activation_id: uuid.UUID
    exporting: asyncio.Task[None]
    reachable: set[int]
    single: dict[int, str]  # the reachable profiles with one customer record -> its id


async def in_flight(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> InFlight:
    shop = await build_shop(sessions, channels=(PUSHED,))
    await set_endpoint(sessions, PUSHED, receiver.url)
    activation_id = await add_activation(sessions, shop, PUSHED)
    receiver.hold()
    exporting = asyncio.create_task(export(sessions, settings, activation_id))
    await asyncio.to_thread(receiver.wait_for, 1)
    reachable = set(shop.treated()) & shop.consented[Purpose.TARGETING_ONSITE]
    single = await _single_record_customers(sessions, reachable)
    return InFlight(shop, activation_id, exporting, reachable, single)


async def answered(flight: InFlight, receiver: ChannelReceiver) -> None:
    receiver.release()
    await flight.exporting


async def test_a_merge_while_the_file_is_out_moves_the_contacts_recorded_after_it(
    merge_sessions: SessionFactory,
    merge_settings: Settings,
    merge_admin: EndcapClient,
    receiver: ChannelReceiver,
    tmp_path: Path,
) -> None:
    flight = await in_flight(merge_sessions, merge_settings, receiver)
    try:
        survivor, merged_away = sorted(flight.single)[:2]
        path = tmp_path / "identifiers.csv"
        path.write_text(
            "customer_id,id_type,id_value\n"
            f"{flight.single[survivor]},loyalty_card,late-{flight.shop.tag}\n"
            f"{flight.single[merged_away]},loyalty_card,late-{flight.shop.tag}\n",
            encoding="utf-8",
        )
        job = await asyncio.to_thread(merge_admin.upload, "identifiers", path)
        assert (await asyncio.to_thread(merge_admin.wait, job.id)).status == "succeeded"
    finally:
        await answered(flight, receiver)

    assert (await activation(merge_sessions, flight.activation_id)).exported == len(
        flight.reachable
    )
    # The file named both; from the merge on they are one shopper with one contact, and
    # no row is left on the id the merge retired.
    assert await contacts_of(merge_sessions, flight.activation_id) == flight.reachable - {
        merged_away
    }
    assert await files_reaching(merge_sessions, merged_away) == []


async def test_an_erasure_while_the_file_is_out_leaves_no_contact_of_the_erased_shopper(
    merge_sessions: SessionFactory,
    merge_settings: Settings,
    merge_admin: EndcapClient,
    receiver: ChannelReceiver,
    tmp_path: Path,
) -> None:
    flight = await in_flight(merge_sessions, merge_settings, receiver)
    try:
        erased = min(flight.single)
        tombstone = await asyncio.to_thread(
            lambda: merge_admin.erase(customer_id=flight.single[erased])
        )
        assert tombstone.customers_removed == 1
    finally:
        await answered(flight, receiver)

    assert await files_reaching(merge_sessions, erased) == []
    assert await contacts_of(merge_sessions, flight.activation_id) == flight.reachable - {erased}


async def test_a_split_while_the_file_is_out_gives_the_split_off_profile_the_contact(
    merge_sessions: SessionFactory,
    merge_settings: Settings,
    merge_admin: EndcapClient,
    receiver: ChannelReceiver,
    tmp_path: Path,
) -> None:
    shop = await build_shop(merge_sessions, channels=(PUSHED,))
    await set_endpoint(merge_sessions, PUSHED, receiver.url)
    reachable = set(shop.treated()) & shop.consented[Purpose.TARGETING_ONSITE]
    single = await _single_record_customers(merge_sessions, reachable)
    survivor, joined, third, fourth = sorted(single)[:4]
    card = f"split-{shop.tag}"

    def load(*profiles: int) -> None:
        path = tmp_path / f"identifiers-{len(profiles)}.csv"
        rows = "".join(f"{single[p]},loyalty_card,{card}\n" for p in profiles)
        path.write_text(f"customer_id,id_type,id_value\n{rows}", encoding="utf-8")
        assert merge_admin.wait(merge_admin.upload("identifiers", path).id).status == "succeeded"

    # One card on two records: one shopper, the survivor, before the export reads anyone.
    await asyncio.to_thread(load, survivor, joined)
    activation_id = await add_activation(merge_sessions, shop, PUSHED)
    receiver.hold()
    exporting = asyncio.create_task(export(merge_sessions, merge_settings, activation_id))
    try:
        await asyncio.to_thread(receiver.wait_for, 1)
        # While the file is with the channel, the card turns up on two more records: shared
        # now, it joins nothing, and the joined record splits off into a profile of its own.
        await asyncio.to_thread(load, third, fourth)
    finally:
        receiver.release()
        await exporting

    async with merge_sessions() as session:
        query = select(Customer.profile_id).where(Customer.customer_id == single[joined])
        split_off = int((await session.execute(query)).scalar_one())
    assert split_off not in (survivor, joined)
    # The file named the survivor, who was both records then: both sides keep the contact,
    # as a split that came after the recording would have left them.
    assert await files_reaching(merge_sessions, survivor, split_off) == sorted(
        [(activation_id, survivor), (activation_id, split_off)]
    )
    assert await contacts_of(merge_sessions, activation_id) == (reachable - {joined}) | {split_off}


@pytest.mark.postgres
async def test_a_merge_waits_for_a_recording_in_progress_and_then_moves_its_rows(
    merge_sessions: SessionFactory, merge_settings: Settings
) -> None:
    shop = await build_shop(merge_sessions, channels=(CHANNEL,))
    activation_id = await add_activation(merge_sessions, shop, CHANNEL)
    old, new = shop.treated()[:2]
    ids = Path(merge_settings.activation.drop_dir) / f"{activation_id}.contacts"
    ids.parent.mkdir(parents=True, exist_ok=True)
    np.array([old], dtype=np.int64).tofile(ids)

    async with merge_sessions() as recording, merge_sessions() as moving:
        contacts = Contacts(ActivationRepository(recording), chunk_rows=100)
        seen = await contacts.moves_seen()
        await contacts.record(activation_id, ids, seen=seen)  # holds the lock to its commit
        move = asyncio.create_task(follow_profiles(moving, [(old, new, True)]))
        await asyncio.sleep(0.5)
        assert not move.done()  # the merge waits for the recording ...
        await recording.commit()
        await asyncio.wait_for(move, 10)
        await moving.commit()

    # ... and then finds its row: the file's contact is on the survivor.
    assert await files_reaching(merge_sessions, old, new) == [(activation_id, new)]
