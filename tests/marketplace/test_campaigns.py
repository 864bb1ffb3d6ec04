"""A brand forecasts, drafts and books over the real server; the retailer approves and runs
the campaign through its lifecycle. Numbers are checked against the rate card by hand."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest

from endcap.client import EndcapAPIError
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import MIN_AUDIENCE, Market


def test_the_booking_reserves_exactly_what_the_forecast_quoted(market: Market) -> None:
    body = campaign_body(market, market.a)
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        before = {w.week_start: w.booked for w in admin.capacity("onsite_display")}
        forecast = brand.forecast(
            audience_id=body["audience_id"],
            channels=body["channels"],
            starts_on=body["starts_on"],
            ends_on=body["ends_on"],
            frequency_cap=2,
        )
        (line,) = forecast.lines
        # Reach is the rounded catalog number; impressions follow from it alone:
        # 90% outside the holdout, 2 contacts a week, two full weeks.
        assert line.reach % 100 == 0
        assert line.reach >= MIN_AUDIENCE
        assert line.treatment_reach == round(line.reach * 0.9)
        assert line.impressions == 2 * 2 * line.treatment_reach
        assert line.cpm == Decimal("42.00")  # 40.00 onsite + 2.00 audience premium
        assert line.cost == (Decimal(line.impressions) * line.cpm / 1000).quantize(Decimal("0.01"))
        assert line.fits
        assert not forecast.budget_limited

        draft = brand.create_campaign(**body)
        assert draft.status == "draft"
        assert draft.partner_id == market.a.partner_id
        booked = brand.book(draft.id)
        after = {w.week_start: w.booked for w in admin.capacity("onsite_display")}

    assert booked.status == "submitted"
    assert [a.id for a in booked.audiences] == [body["audience_id"]]
    assert all(a.version is not None for a in booked.audiences)
    assert booked.booked_impressions == forecast.impressions
    assert booked.booked_cost == forecast.cost
    assert [(x.channel, x.impressions, x.cost) for x in booked.lines] == [
        (line.channel, line.impressions, line.cost)
    ]
    taken = {week: after[week] - before.get(week, 0) for week in after}
    assert sum(taken.values()) == forecast.impressions
    assert sorted(w for w, n in taken.items() if n) == [
        body["starts_on"],
        body["starts_on"].fromordinal(body["starts_on"].toordinal() + 7),
    ]


def test_a_small_budget_cuts_impressions_to_fit(market: Market) -> None:
    body = campaign_body(market, market.a, budget="10.00")
    with market.client(market.a.key) as brand:
        booked = brand.book(brand.create_campaign(**body).id)
    assert booked.booked_cost is not None
    assert booked.booked_cost <= Decimal("10.00")
    assert booked.booked_cost > Decimal("9.90")
    impressions = booked.booked_impressions or 0
    assert booked.booked_cost == (Decimal(impressions) * Decimal("0.042")).quantize(Decimal("0.01"))
    assert 10.00 / 0.042 - 3 <= impressions <= 10.00 / 0.042  # about 238, cut per week


def test_lifecycle_is_audited_and_illegal_moves_are_409(market: Market) -> None:
    body = campaign_body(market, market.a)
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        campaign = brand.book(brand.create_campaign(**body).id)
        with pytest.raises(EndcapAPIError) as refused:
            brand.act(campaign.id, "approve")
        assert refused.value.status == 403

        queue = admin.approvals().items
        item = next(i for i in queue if i.campaign.id == campaign.id)
        assert item.ready, [c for c in item.checks if not c.passed]
        assert {c.name for c in item.checks} >= {"policy", "audience", "capacity", "creative"}

        approved = admin.act(campaign.id, "approve")
        assert approved.status == "approved"
        with pytest.raises(EndcapAPIError) as illegal:
            brand.act(campaign.id, "resume")
        assert illegal.value.status == 409
        assert illegal.value.problem["current_status"] == "approved"  # the current state, named

        for action, state in (
            ("schedule", "scheduled"),
            ("start", "live"),
            ("pause", "paused"),
            ("resume", "live"),
            ("complete", "completed"),
        ):
            client = brand if action in ("pause", "resume") else admin
            assert client.act(campaign.id, action).status == state

        with pytest.raises(EndcapAPIError) as late:
            admin.act(campaign.id, "cancel")
        assert late.value.status == 409
        events = brand.campaign_events(campaign.id)

    assert [(e.action, e.to_status) for e in events] == [
        ("create", "draft"),
        ("book", "submitted"),
        ("approve", "approved"),
        ("schedule", "scheduled"),
        ("start", "live"),
        ("pause", "paused"),
        ("resume", "live"),
        ("complete", "completed"),
    ]
    assert [e.actor_role for e in events][:3] == ["brand", "brand", "retailer_admin"]
    # A brand sees its own keys on its moves; which retailer key acted stays the retailer's.
    assert all((e.actor_key_id is not None) == (e.actor_role == "brand") for e in events)
    with market.client(market.admin_key) as admin:
        assert all(e.actor_key_id is not None for e in admin.campaign_events(campaign.id))


def test_rejecting_needs_a_reason_and_gives_the_capacity_back(market: Market) -> None:
    body = campaign_body(market, market.a, channels=["email"])
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        before = sum(w.booked for w in admin.capacity("email"))
        campaign = brand.book(brand.create_campaign(**body).id)
        assert sum(w.booked for w in admin.capacity("email")) == before + (
            campaign.booked_impressions or 0
        )
        with pytest.raises(EndcapAPIError) as no_reason:
            admin.act(campaign.id, "reject")
        assert no_reason.value.status == 422
        # The brand reads the reason as written: nothing that hides or reorders text.
        with pytest.raises(EndcapAPIError) as hidden:
            admin.act(campaign.id, "reject", reason="bad\u202eevil")
        assert hidden.value.status == 422
        assert _fields_of(hidden.value) == ["/reason"]
        assert admin.campaign(campaign.id).status == "submitted"
        rejected = admin.act(campaign.id, "reject", reason="creative breaks the alcohol policy")
        after = sum(w.booked for w in admin.capacity("email"))
    assert rejected.status == "rejected"
    assert rejected.reject_reason == "creative breaks the alcohol policy"
    assert after == before


def test_a_retried_create_returns_the_same_draft(market: Market) -> None:
    body = campaign_body(market, market.a)
    with market.client(market.a.key) as brand:
        first = brand.create_campaign(idempotency_key="retry-1", **body)
        again = brand.create_campaign(idempotency_key="retry-1", **body)
        with pytest.raises(EndcapAPIError) as replay:
            brand.create_campaign(idempotency_key="retry-1", **{**body, "name": "other"})
        mine = [c.id for c in brand.campaigns(limit=200).items]
    assert again.id == first.id
    with market.client(market.a.key) as brand:
        replayed = brand.request(
            "POST",
            "/api/v1/campaigns",
            json=json.loads(json.dumps(body, default=str)),
            headers={"Idempotency-Key": "retry-1"},
        )
    assert replayed.headers["ETag"] == f'"{first.revision}"'  # the replay keeps its ETag
    assert mine.count(first.id) == 1
    assert replay.value.status == 409


def test_scheduling_exports_each_channel_to_the_drop(market: Market) -> None:
    body = campaign_body(market, market.a, channels=["onsite_display", "email"])
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        campaign = brand.book(brand.create_campaign(**body).id)
        admin.act(campaign.id, "approve")
        admin.act(campaign.id, "schedule")
        deadline = time.monotonic() + 60
        while True:
            shown = brand.activations(campaign.id).items
            if (
                all(a.status in ("delivered", "failed") for a in shown)
                or time.monotonic() > deadline
            ):
                break
            time.sleep(0.2)
        exact = {a.channel: a for a in admin.activations(campaign.id).items}
    with market.client(market.admin_key) as admin:
        again = {a.channel: a for a in admin.activate(campaign.id)}
        deadline = time.monotonic() + 60
        while any(admin.activation(a.id).status in ("queued", "running") for a in again.values()):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        redone = {c: admin.activation(a.id) for c, a in again.items()}
    # The holdout was drawn once, at approval: a second export splits exactly the same way.
    for channel, first in exact.items():
        assert redone[channel].holdout_excluded == first.holdout_excluded
        assert redone[channel].exported == first.exported
    assert sorted(a.channel for a in shown) == ["email", "onsite_display"]
    assert {a.status for a in shown} == {"delivered"}
    for channel, activation in exact.items():
        folder = market.drop_dir / str(campaign.id)
        rows = (folder / f"{channel}-{activation.id}.csv").read_text().splitlines()
        assert rows[0] == "profile_id"
        assert len(rows) - 1 == activation.exported
        # The brand sees that it went out, but no count (activation/service.py public).
        seen = next(a for a in shown if a.channel == channel)
        assert (seen.status, seen.exported, seen.members) == ("delivered", None, None)


def test_cancelling_a_live_campaign_keeps_this_weeks_capacity_spent(market: Market) -> None:
    today = date.today()  # noqa: DTZ011  (flight dates are calendar days)
    this_week = today - timedelta(days=today.weekday())
    flight = {"starts_on": today, "ends_on": this_week + timedelta(days=20)}  # three ISO weeks
    body = campaign_body(market, market.a, channels=["offsite_social"], **flight)
    with market.client(market.admin_key) as admin, market.client(market.a.key) as brand:
        admin.configure_channel(
            "offsite_social",
            cpm="55.00",
            currency="SEK",
            weekly_capacity=10**7,
            max_per_profile_week=3,
        )
        weeks = {"first": this_week, "last": this_week + timedelta(days=20)}
        before = [w.booked for w in admin.capacity("offsite_social", **weeks)]
        campaign = brand.book(brand.create_campaign(**body).id)
        for action in ("approve", "schedule", "start"):
            admin.act(campaign.id, action)
        booked = [w.booked for w in admin.capacity("offsite_social", **weeks)]
        brand.act(campaign.id, "cancel")
        after = [w.booked for w in admin.capacity("offsite_social", **weeks)]
    held = [b - a for a, b in zip(before, booked, strict=True)]
    assert len(held) == 3
    assert all(n > 0 for n in held)
    assert sum(held) == campaign.booked_impressions
    # The week under way has been (partly) delivered: its impressions stay spent.
    assert after == [booked[0], before[1], before[2]]


def _fields_of(error: EndcapAPIError) -> list[str]:
    return [str(e.get("field")) for e in error.problem.get("errors", [])]


@pytest.mark.parametrize(("who", "action"), [("admin", "reject"), ("brand", "cancel")])
def test_a_campaign_ended_before_it_was_scheduled_gives_back_this_week_too(
    market: Market, who: str, action: str
) -> None:
    """Its flight has begun, but nothing went out before scheduling: every week is free."""
    today = date.today()  # noqa: DTZ011  (flight dates are calendar days)
    this_week = today - timedelta(days=today.weekday())
    flight = {"starts_on": today, "ends_on": this_week + timedelta(days=13)}  # two ISO weeks
    body = campaign_body(market, market.a, channels=["instore_screen"], **flight)
    body["creative"] = {"headline": "New taste"}
    weeks = {"first": this_week, "last": this_week + timedelta(days=13)}
    with market.client(market.admin_key) as admin, market.client(market.a.key) as brand:
        admin.configure_channel(
            "instore_screen", cpm="10.00", currency="SEK", weekly_capacity=10**7,
            max_per_profile_week=3,
        )  # fmt: skip
        before = [w.booked for w in admin.capacity("instore_screen", **weeks)]
        campaign = brand.book(brand.create_campaign(**body).id)
        booked = [w.booked for w in admin.capacity("instore_screen", **weeks)]
        actor = admin if who == "admin" else brand
        ended = actor.act(campaign.id, action, **({"reason": "no"} if action == "reject" else {}))
        after = [w.booked for w in admin.capacity("instore_screen", **weeks)]
    assert ended.status == ("rejected" if action == "reject" else "cancelled")
    assert len(booked) == 2
    assert all(b > a for a, b in zip(before, booked, strict=True))
    assert after == before
