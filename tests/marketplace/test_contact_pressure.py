"""The e-mail channel's limit on contacts per shopper per week, across two brands'
campaigns on the same shoppers, over real HTTP: booked, approved, scheduled and exported
by the server's worker into the drop.

Their flights lie a year ahead, away from the other tests' campaigns (which start next
Monday), and end cancelled, so that neither side counts against the other.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from endcap.activation.schemas import ActivationPublic
from endcap.client import EndcapClient
from tests.marketplace.booking import campaign_body, next_monday
from tests.marketplace.conftest import MIN_AUDIENCE, Brand, Market

CHANNEL = "email"
LIMIT = 3  # the fixture's: two campaigns capped at 2 a week are one contact too many


def flight(weeks_ahead: int) -> dict[str, Any]:
    starts = next_monday(weeks_ahead)
    return {"starts_on": starts, "ends_on": starts + timedelta(days=13)}  # two ISO weeks


@contextmanager
def limit(admin: EndcapClient, per_week: int) -> Iterator[None]:
    """The channel's contacts per shopper per week, put back to the fixture's after."""
    settings = {"cpm": "25.00", "currency": "SEK", "weekly_capacity": 1_000_000}
    admin.configure_channel(CHANNEL, max_per_profile_week=per_week, **settings)
    try:
        yield
    finally:
        admin.configure_channel(CHANNEL, max_per_profile_week=LIMIT, **settings)


def delivered(admin: EndcapClient, activation_id: uuid.UUID) -> ActivationPublic:
    deadline = time.monotonic() + 60
    while (found := admin.activation(activation_id)).status in ("queued", "running"):
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    assert found.status == "delivered", found.error
    return found


def scheduled(market: Market, brand: Brand, **dates: Any) -> tuple[uuid.UUID, ActivationPublic]:
    """The brand's e-mail campaign (capped at 2 a week), booked, approved and scheduled:
    its id, and its first export once delivered."""
    body = campaign_body(market, brand, channels=[CHANNEL], frequency_cap=2, **dates)
    with market.client(brand.key) as client, market.client(market.admin_key) as admin:
        campaign = client.book(client.create_campaign(**body).id)
        admin.act(campaign.id, "approve")
        admin.act(campaign.id, "schedule")
        (queued,) = admin.activations(campaign.id).items
        return campaign.id, delivered(admin, queued.id)


def again(market: Market, campaign_id: uuid.UUID) -> ActivationPublic:
    with market.client(market.admin_key) as admin:
        (queued,) = admin.activate(campaign_id)
        return delivered(admin, queued.id)


def sent(market: Market, activation: ActivationPublic) -> set[int]:
    path = market.drop_dir / str(activation.campaign_id) / f"{CHANNEL}-{activation.id}.csv"
    rows = path.read_text().splitlines()
    assert rows[0] == "profile_id"
    return {int(r) for r in rows[1:]}


def considered(a: ActivationPublic) -> tuple[int | None, int | None, int | None]:
    return a.members, a.holdout_excluded, a.no_consent_excluded


def cancel(market: Market, *campaign_ids: uuid.UUID) -> None:
    with market.client(market.admin_key) as admin:
        for campaign_id in campaign_ids:
            admin.act(campaign_id, "cancel")


def test_a_second_brand_leaves_out_exactly_the_shoppers_the_first_fills_up(
    market: Market,
) -> None:
    with market.client(market.admin_key) as admin, limit(admin, 4):
        a_id, a_first = scheduled(market, market.a, **flight(60))
        b_id, b_roomy = scheduled(market, market.b, **flight(61))  # shares flight(60)'s 2nd week
    running = [a_id, b_id]
    try:
        with market.client(market.admin_key) as admin, limit(admin, LIMIT):
            b_tight = again(market, b_id)
            a_again = again(market, a_id)
            b_again = again(market, b_id)
            with market.client(market.b.key) as brand:
                b_seen = brand.activation(b_tight.id)
            cancel(market, running.pop(0))  # A, before its flight: it plans no week any more
            b_after = again(market, b_id)
    finally:
        cancel(market, *running)

    shared = sent(market, a_first) & sent(market, b_roomy)
    # With room for 4 a week, both brands reach the shoppers they share.
    assert len(shared) > MIN_AUDIENCE
    assert (a_first.pressure_excluded, b_roomy.pressure_excluded) == (0, 0)
    # With room for 3, B's export leaves out exactly those A's file already holds.
    assert sent(market, b_tight) == sent(market, b_roomy) - sent(market, a_first)
    assert not sent(market, b_tight) & sent(market, a_first)
    assert b_tight.pressure_excluded == len(shared)
    assert considered(b_tight) == considered(b_roomy)
    assert b_tight.members == (
        (b_tight.holdout_excluded or 0)
        + (b_tight.no_consent_excluded or 0)
        + b_tight.pressure_excluded
        + (b_tight.exported or 0)
    )
    # The retailer sees who was left out and why; the brand no count at all: the pressure
    # count would size A's campaign for B, and what was sent is over an unreleased union.
    assert (b_seen.exact, b_tight.exact) == (False, True)
    assert (b_seen.pressure_excluded, b_seen.no_consent_excluded) == (None, None)
    assert (b_seen.members, b_seen.exported, b_seen.status) == (None, None, "delivered")
    # A campaign's own earlier files never count against it; the other's latest one does:
    # B's latest file holds none of A's shoppers, so A keeps all of them.
    assert sent(market, a_again) == sent(market, a_first)
    assert sent(market, b_again) == sent(market, b_tight)
    assert (a_again.pressure_excluded, b_again.pressure_excluded) == (0, len(shared))
    # A cancelled before its flight plans no contacts: B reaches the shared shoppers again.
    assert sent(market, b_after) == sent(market, b_roomy)
    assert b_after.pressure_excluded == 0


def test_flights_that_do_not_overlap_do_not_interfere(market: Market) -> None:
    a_id, a_sent = scheduled(market, market.a, **flight(70))
    b_id, b_sent = scheduled(market, market.b, **flight(72))  # starts the week after A's end
    cancel(market, a_id, b_id)

    assert len(sent(market, a_sent) & sent(market, b_sent)) > MIN_AUDIENCE
    assert (a_sent.pressure_excluded, b_sent.pressure_excluded) == (0, 0)
