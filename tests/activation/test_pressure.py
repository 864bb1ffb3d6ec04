"""The channel's contact limit across campaigns: the rule itself, and exports on a real
database (two at once on PostgreSQL; a campaign cancelled in flight, over HTTP)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from endcap.activation.delivery import DeliveryFailedError
from endcap.activation.models import ActivationContact, ActivationStatus
from endcap.activation.pressure import ContactPressure, Flight
from endcap.client import EndcapClient
from endcap.config import Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.marketplace.models import CampaignStatus
from endcap.marketplace.plan import week_start
from endcap.privacy.channels import Channel
from tests.activation import data
from tests.activation.data import Shop, add_activation, build_shop, rival, set_limit
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export

MONDAY = date(2026, 11, 30)


def week(n: int) -> date:
    return MONDAY + timedelta(weeks=n)


def weeks(*ns: int) -> frozenset[date]:
    return frozenset(week(n) for n in ns)


# -- the rule ------------------------------------------------------------------------------


def test_a_flight_plans_contacts_in_each_iso_week_it_touches_from_the_given_week() -> None:
    flight = Flight(week(0) + timedelta(days=2), week(2) + timedelta(days=1), 2)  # Wed to Tue

    assert flight.weeks_from(week(0)) == weeks(0, 1, 2)
    assert flight.weeks_from(week(1)) == weeks(1, 2)
    assert flight.weeks_from(week(3)) == frozenset()


def test_an_ended_campaign_keeps_the_week_it_ended_in_only_if_its_flight_had_begun() -> None:
    in_flight = Flight(week(0), week(3) + timedelta(days=6), 2, ended_on=week(1) + timedelta(2))
    before_it = Flight(week(2), week(3) + timedelta(days=6), 2, ended_on=week(1) + timedelta(2))

    assert in_flight.weeks_from(week(0)) == weeks(0, 1)  # the week it was cancelled in stays
    assert before_it.weeks_from(week(0)) == frozenset()


def two_weeks(n: int, cap: int = 2, ended_on: date | None = None) -> Flight:
    return Flight(week(n), week(n + 1) + timedelta(days=6), cap, ended_on)


def rule(limit: int, own: Flight, *others: Flight) -> tuple[ContactPressure, list[uuid.UUID]]:
    """The rule with ``others`` as other campaigns' flights; returns it and their files."""
    files = [uuid.uuid4() for _ in others]
    pressure = ContactPressure(
        limit=limit, own=own, others=dict(zip(files, others, strict=True)), today=week(0)
    )
    return pressure, files


def held(
    pressure: ContactPressure, profile_id: int, files: list[uuid.UUID]
) -> list[tuple[int, int]]:
    """The contacts rows the export reads for ``profile_id`` in ``files``."""
    return [(profile_id, pressure.files.index(f)) for f in files if f in pressure.files]


@pytest.mark.parametrize(
    ("limit", "others", "held_by", "out"),
    [
        pytest.param(3, [two_weeks(1)], [0], {1}, id="2+2 over 3 in the shared week"),
        pytest.param(4, [two_weeks(1)], [0], set(), id="2+2 within 4"),
        pytest.param(3, [two_weeks(4)], [0], set(), id="flights apart"),
        pytest.param(3, [two_weeks(0, cap=1)], [0], set(), id="2+1 within 3"),
        pytest.param(3, [two_weeks(0, 1), two_weeks(1, 1)], [0, 1], {1}, id="2+1+1 over 3"),
        pytest.param(3, [two_weeks(0, 1), two_weeks(1, 1)], [0], set(), id="2+1 of the two"),
        pytest.param(
            3, [two_weeks(0, ended_on=week(0))], [0], {1}, id="ended this week, still counts"
        ),
        pytest.param(3, [two_weeks(-1, ended_on=week(-1))], [0], set(), id="ended last week"),
    ],
)
def test_a_shopper_is_left_out_when_a_week_of_the_flight_would_pass_the_limit(
    limit: int, others: list[Flight], held_by: list[int], out: set[int]
) -> None:
    pressure, files = rule(limit, two_weeks(0), *others)
    # Shopper 1 is in the files of the others listed in held_by; shopper 2 in no file.
    contacts = held(pressure, 1, [files[i] for i in held_by])

    assert pressure.left_out([1, 2], contacts) == out


@pytest.mark.parametrize(
    ("limit", "other", "reads"),
    [(4, two_weeks(1), False), (3, two_weeks(4, cap=3), False), (3, two_weeks(1), True)],
)
def test_contacts_are_read_only_when_someone_could_pass_the_limit(
    limit: int, other: Flight, reads: bool
) -> None:
    pressure, _ = rule(limit, two_weeks(0), other)

    assert pressure.needs_contacts is reads


def test_a_cap_over_the_limit_leaves_everyone_out_until_the_flight_is_over() -> None:
    running, _ = rule(1, two_weeks(0))
    over, _ = rule(1, two_weeks(-3))

    assert running.left_out([1, 2, 3], []) == {1, 2, 3}
    assert over.left_out([1, 2, 3], []) == set()


def test_only_files_of_campaigns_running_in_the_flights_weeks_are_read() -> None:
    pressure, files = rule(3, two_weeks(0), two_weeks(1), two_weeks(5), two_weeks(-3))

    assert pressure.files == (files[0],)


# -- exports on the database ---------------------------------------------------------------


def flight_from(weeks_ahead: int, cap: int = 2, days: int = 13) -> data.Flight:
    monday = week_start(utcnow().date()) + timedelta(weeks=weeks_ahead)
    return data.Flight(monday, monday + timedelta(days=days), cap)


async def contacts_of(sessions: SessionFactory, activation_id: uuid.UUID) -> set[int]:
    async with sessions() as session:
        query = select(ActivationContact.profile_id).where(
            ActivationContact.activation_id == activation_id  # type: ignore[arg-type]
        )
        return set((await session.execute(query)).scalars().all())


def reachable(shop: Shop) -> set[int]:
    """Whom the shop's campaign would export on-site with no other campaign around."""
    return set(shop.treated()) & shop.consented[Purpose.TARGETING_ONSITE]


async def test_a_delivered_activation_records_exactly_whom_its_file_reached(
    sessions: SessionFactory, settings: Settings
) -> None:
    shop = await build_shop(sessions, flight=flight_from(30))
    await set_limit(sessions, Channel.OFFSITE_SOCIAL, 3)
    activation_id = await add_activation(sessions, shop, Channel.OFFSITE_SOCIAL)

    await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    keyed = {p for p in shop.treated() if p in shop.consented[Purpose.TARGETING_OFFSITE]}
    expected = {p for p in keyed if shop.keys[p]}
    assert await contacts_of(sessions, activation_id) == expected
    assert done.exported == len(expected)
    assert done.pressure_excluded == 0
    assert done.members is not None
    unkeyed = done.members - (done.holdout_excluded or 0) - (done.no_consent_excluded or 0)
    assert unkeyed - done.pressure_excluded - len(expected) == len(keyed - expected)


async def test_a_failed_delivery_records_no_contacts(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    receiver.behaviour.always_fail = True
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await data.set_endpoint(sessions, Channel.COUPON, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.COUPON)

    with pytest.raises(DeliveryFailedError, match="answered 503"):
        await export(sessions, settings, activation_id)

    assert (await activation(sessions, activation_id)).status == ActivationStatus.FAILED
    assert await contacts_of(sessions, activation_id) == set()


@pytest.mark.postgres
async def test_two_exports_at_once_on_one_channel_never_together_pass_the_limit(
    sessions: SessionFactory, settings: Settings
) -> None:
    shop = await build_shop(sessions, channels=(Channel.COUPON,), flight=flight_from(40))
    other = await rival(sessions, shop, flight_from(41), channels=(Channel.COUPON,))
    await set_limit(sessions, Channel.COUPON, 3)  # 2 + 2 in the shared week is one too many
    first = await add_activation(sessions, shop, Channel.COUPON)
    second = await add_activation(sessions, other, Channel.COUPON)

    await asyncio.gather(export(sessions, settings, first), export(sessions, settings, second))

    sent = {a: await contacts_of(sessions, a) for a in (first, second)}
    done = {a: await activation(sessions, a) for a in (first, second)}
    shared = reachable(shop) & reachable(other)
    assert len(shared) > 50
    assert not sent[first] & sent[second]  # nobody gets 2 + 2 in one week
    assert sent[first] | sent[second] == reachable(shop) | reachable(other)
    # Whichever went second left out exactly the shoppers the first one had taken.
    assert sorted(d.pressure_excluded or 0 for d in done.values()) == [0, len(shared)]
    assert {d.status for d in done.values()} == {ActivationStatus.DELIVERED}


async def test_a_campaign_cancelled_in_flight_still_counts_in_the_week_it_was_cancelled(
    sessions: SessionFactory, settings: Settings, admin: EndcapClient
) -> None:
    channel = Channel.INSTORE_SCREEN
    this_week = week_start(utcnow().date())
    begun = data.Flight(this_week - timedelta(weeks=1), this_week + timedelta(days=20), 2)
    shop = await build_shop(sessions, channels=(channel,), status=CampaignStatus.LIVE, flight=begun)
    await set_limit(sessions, channel, 3)
    await export(sessions, settings, await add_activation(sessions, shop, channel))
    admin.act(shop.campaign.id, "cancel")
    this_and_next = await rival(sessions, shop, flight_from(0), channels=(channel,))
    next_only = await rival(sessions, shop, flight_from(1, days=6), channels=(channel,))

    later = await add_activation(sessions, next_only, channel)
    await export(sessions, settings, later)
    admin.act(next_only.campaign.id, "cancel")  # before its flight: it counts in no week
    now = await add_activation(sessions, this_and_next, channel)
    await export(sessions, settings, now)

    first_sent = reachable(shop)
    assert await contacts_of(sessions, later) == reachable(next_only)
    assert (await activation(sessions, later)).pressure_excluded == 0
    # This week the cancelled campaign's two contacts stay planned: 2 + 2 > 3.
    assert await contacts_of(sessions, now) == reachable(this_and_next) - first_sent
    excluded = (await activation(sessions, now)).pressure_excluded
    assert excluded == len(reachable(this_and_next) & first_sent) > 0
