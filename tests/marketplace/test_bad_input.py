"""Every way a booking can be wrong gets a problem answer naming the field, never a 500,
and nothing is stored or taken: the brand's campaign list and the capacity stay as they were."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from endcap.client import EndcapAPIError
from tests.marketplace.booking import campaign_body, next_monday
from tests.marketplace.conftest import Market

MONDAY = next_monday()

CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("start in the past", {"starts_on": MONDAY - timedelta(days=30)}, 422, "/starts_on"),
    ("end before start", {"ends_on": MONDAY - timedelta(days=1)}, 422, "/ends_on"),
    ("flight of two years", {"ends_on": MONDAY + timedelta(days=800)}, 422, "/ends_on"),
    ("budget zero", {"budget": "0"}, 422, "/budget"),
    ("budget negative", {"budget": "-5.00"}, 422, "/budget"),
    ("budget not a number", {"budget": "lots"}, 422, "/budget"),
    ("budget in euro", {"currency": "EUR"}, 422, "/currency"),
    ("unknown audience", {"audience_id": str(uuid.uuid4())}, 422, "/audience_id"),
    ("channel never priced", {"channels": ["coupon"]}, 422, "/channels/0"),
    ("unknown channel", {"channels": ["fax"]}, 422, "/channels/0"),
    ("channel twice", {"channels": ["email", "email"]}, 422, "/channels"),
    ("no channels", {"channels": []}, 422, "/channels"),
    ("cap above the channel limit", {"frequency_cap": 5}, 422, "/frequency_cap"),
    ("holdout of 1%", {"holdout_share": "0.01"}, 422, "/holdout_share"),
    ("attribution of 45 days", {"post_click_days": 45}, 422, "/post_click_days"),
    ("a cap of true", {"frequency_cap": True}, 422, "/frequency_cap"),
    ("a cap as text", {"frequency_cap": "2"}, 422, "/frequency_cap"),
    ("an unknown field", {"discount_code": "FREE"}, 422, "/discount_code"),
    ("a blank name", {"name": " \t "}, 422, "/name"),
    ("a name with spaces around it", {"name": " Summer "}, 422, "/name"),
    ("a name with a bidi override", {"name": "Summer\u202e"}, 422, "/name"),
    # A headline shoppers would see as blank passed the approval's "headline present".
    ("an invisible headline", {"creative": {"headline": "\u200b"}}, 422, "/creative/headline"),
    ("a blank headline", {"creative": {"headline": "\u3000"}}, 422, "/creative/headline"),
    ("a sku nobody makes", {"skus": ["no-such-sku"]}, 422, "/skus/0"),
    ("the same sku twice", {"skus": ["x", "x"]}, 422, "/skus"),
]


def _fields(problem: dict[str, Any]) -> set[str]:
    return {str(e.get("field")) for e in problem.get("errors", [])}


@pytest.mark.parametrize(("label", "change", "status", "field"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_draft_is_refused_with_the_field_named(
    market: Market, label: str, change: dict[str, Any], status: int, field: str
) -> None:
    with market.client(market.a.key) as brand:
        before = len(brand.campaigns(limit=200).items)
        with pytest.raises(EndcapAPIError) as refused:
            brand.create_campaign(**campaign_body(market, market.a, **change))
        after = len(brand.campaigns(limit=200).items)
    assert refused.value.status == status, refused.value.problem
    assert any(field in f for f in _fields(refused.value.problem)), refused.value.problem
    assert after == before


def test_promoting_another_brands_product_is_refused(market: Market) -> None:
    body = campaign_body(market, market.a, skus=[market.a.skus[0], market.b.skus[0]])
    with market.client(market.a.key) as brand, pytest.raises(EndcapAPIError) as refused:
        brand.create_campaign(**body)
    assert refused.value.status == 422
    assert _fields(refused.value.problem) == {"/skus/1"}
    assert market.b.skus[0] in refused.value.detail


def test_an_unpublished_audience_cannot_be_booked(market: Market) -> None:
    with market.client(market.admin_key) as admin:
        draft = admin.request(
            "POST",
            "/api/v1/audiences",
            json={
                "name": f"unpublished {uuid.uuid4().hex[:6]}",
                "rule": {"trait": "spend_52w", "op": ">", "value": 0},
            },
        ).json()
    body = campaign_body(market, market.a, audience_id=draft["id"])
    with market.client(market.a.key) as brand, pytest.raises(EndcapAPIError) as refused:
        brand.create_campaign(**body)
    assert refused.value.status == 422
    assert _fields(refused.value.problem) == {"/audience_id"}


def test_a_stale_etag_is_412_a_missing_one_428_and_neither_changes_anything(
    market: Market,
) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        renamed = brand.update_campaign(draft.id, draft.revision, name="Renamed")
        with pytest.raises(EndcapAPIError) as stale:
            brand.update_campaign(draft.id, draft.revision, name="Lost update")
        with pytest.raises(EndcapAPIError) as missing:
            brand.request("PATCH", f"/api/v1/campaigns/{draft.id}", json={"name": "No If-Match"})
        now = brand.campaign(draft.id)
    assert renamed.revision == draft.revision + 1
    assert stale.value.status == 412
    assert missing.value.status == 428
    assert missing.value.problem["type"] == "urn:endcap:problem:precondition-required"
    assert missing.value.problem["current_etag"] == f'"{renamed.revision}"'
    assert stale.value.problem["current_etag"] == f'"{renamed.revision}"'
    assert now.name == "Renamed"


def test_an_update_that_changes_nothing_keeps_the_revision(market: Market) -> None:
    body = campaign_body(market, market.a)
    same = {k: v for k, v in body.items() if k != "audience_id"}
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**body)
        for change in [{}, {"name": draft.name}, same, {"audience_ids": [market.audience_id]}]:
            answer = brand.update_campaign(draft.id, draft.revision, **change)
            assert answer == draft, change
        budget = brand.update_campaign(draft.id, draft.revision, budget="90000.00")
    assert budget.revision == draft.revision + 1


def test_a_booked_campaign_cannot_be_edited(market: Market) -> None:
    with market.client(market.a.key) as brand:
        booked = brand.book(brand.create_campaign(**campaign_body(market, market.a)).id)
        with pytest.raises(EndcapAPIError) as refused:
            brand.update_campaign(booked.id, booked.revision, budget="1.00")
        with pytest.raises(EndcapAPIError) as twice:
            brand.book(booked.id)
    assert refused.value.status == 409
    assert refused.value.problem["current_status"] == "submitted"
    assert twice.value.status == 409


def test_capacity_exceeded_is_409_with_what_is_left(market: Market) -> None:
    with market.client(market.admin_key) as admin, market.client(market.a.key) as brand:
        admin.configure_channel(
            "instore_screen",
            cpm="10.00",
            currency="SEK",
            weekly_capacity=100,
            max_per_profile_week=3,
        )
        draft = brand.create_campaign(
            **campaign_body(market, market.a, channels=["instore_screen"])
        )
        with pytest.raises(EndcapAPIError) as full:
            brand.book(draft.id)
        weeks = admin.capacity("instore_screen", first=MONDAY, last=MONDAY + timedelta(days=13))
        still = brand.campaign(draft.id)
    assert full.value.status == 409
    assert full.value.type.endswith("capacity-exceeded")
    assert {w["left"] for w in full.value.problem["capacity"]} == {100}
    assert all(w.booked == 0 for w in weeks)  # nothing half-taken
    assert still.status == "draft"


def test_one_short_week_refuses_the_booking_and_takes_nothing_from_the_others(
    market: Market,
) -> None:
    # The middle week is on the books with little room; the weeks around it are new and
    # would fit. The booking takes its weeks in one statement, so what the fitting weeks
    # took must go back with the refusal.
    first, middle = next_monday(weeks_ahead=30), next_monday(weeks_ahead=31)
    flight = {"channels": ["instore_screen"], "frequency_cap": 1}
    with market.client(market.admin_key) as admin, market.client(market.a.key) as brand:
        admin.configure_channel(
            "instore_screen",
            cpm="10.00",
            currency="SEK",
            weekly_capacity=10**9,
            max_per_profile_week=3,
        )
        held = admin.book(
            brand.create_campaign(
                **campaign_body(
                    market, market.a, starts_on=middle, ends_on=middle + timedelta(days=6), **flight
                )
            ).id
        ).booked_impressions
        assert held
        admin.configure_channel(
            "instore_screen",
            cpm="10.00",
            currency="SEK",
            weekly_capacity=held + 10,
            max_per_profile_week=3,
        )
        draft = brand.create_campaign(
            **campaign_body(
                market, market.a, starts_on=first, ends_on=first + timedelta(days=20), **flight
            )
        )
        with pytest.raises(EndcapAPIError) as short:
            admin.book(draft.id)  # the retailer sees exactly what is left
        weeks = admin.capacity("instore_screen", first=first, last=first + timedelta(days=20))
    assert short.value.status == 409
    assert [(w["week_start"], w["left"], w["wanted"]) for w in short.value.problem["capacity"]] == [
        (middle.isoformat(), 10, held)
    ]
    assert [(w.week_start, w.booked) for w in weeks] == [
        (first, 0),
        (middle, held),
        (middle + timedelta(days=7), 0),
    ]


@pytest.mark.parametrize(
    "field", ["name", "budget", "currency", "skus", "starts_on", "channels", "holdout_share"]
)
def test_a_null_field_in_an_update_is_422_not_a_crash(market: Market, field: str) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        with pytest.raises(EndcapAPIError) as refused:
            brand.update_campaign(draft.id, draft.revision, **{field: None})
        unchanged = brand.campaign(draft.id)
    assert refused.value.status == 422
    assert f"/{field}" in _fields(refused.value.problem), refused.value.problem
    assert unchanged.revision == draft.revision


@pytest.mark.parametrize("name", ["", "   ", " Summer ", "Summer\u202e", "Summer\u0007"], ids=repr)
def test_a_blank_name_or_one_with_control_characters_is_refused_in_an_update(
    market: Market, name: str
) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        with pytest.raises(EndcapAPIError) as refused:
            brand.update_campaign(draft.id, draft.revision, name=name)
        unchanged = brand.campaign(draft.id)
    assert refused.value.status == 422
    assert _fields(refused.value.problem) == {"/name"}
    assert (unchanged.name, unchanged.revision) == (draft.name, draft.revision)


def test_dates_centuries_ahead_are_refused_everywhere(market: Market) -> None:
    far = {"starts_on": "9999-12-30", "ends_on": "9999-12-31"}
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        with pytest.raises(EndcapAPIError) as booking:
            brand.create_campaign(**campaign_body(market, market.a, **far))
        with pytest.raises(EndcapAPIError) as forecast:
            brand.forecast(audience_id=market.audience_id, channels=["email"], **far)
        with pytest.raises(EndcapAPIError) as capacity:
            admin.capacity("email", first="9999-12-30")
    assert booking.value.status == 422
    assert _fields(booking.value.problem) == {"/starts_on"}
    assert forecast.value.status == 422
    assert capacity.value.status == 422


def test_a_budget_that_buys_nothing_is_refused(market: Market) -> None:
    with market.client(market.a.key) as brand, pytest.raises(EndcapAPIError) as refused:
        brand.create_campaign(**campaign_body(market, market.a, budget="0.01"))
    assert refused.value.status == 422
    assert _fields(refused.value.problem) == {"/budget"}


# A weak tag never matches (If-Match compares strongly, RFC 9110 13.1.1), not even the
# current revision's ("{current}").
@pytest.mark.parametrize(
    "header",
    ['"\u00b2"', '"abc"', '"' + "9" * 5000 + '"', 'W/"{current}"', "{current}", '"0{current}"'],
)
def test_an_etag_that_is_not_ours_is_412(market: Market, header: str) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        with pytest.raises(EndcapAPIError) as refused:
            brand.request(
                "PATCH",
                f"/api/v1/campaigns/{draft.id}",
                json={"name": "x"},
                headers={"If-Match": header.replace("{current}", str(draft.revision)).encode()},
            )
        unchanged = brand.campaign(draft.id)
    assert refused.value.status == 412
    assert unchanged.revision == draft.revision


def test_if_match_star_matches_the_current_revision(market: Market) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        url = f"/api/v1/campaigns/{draft.id}"
        brand.request("PATCH", url, json={"name": "Any"}, headers={"If-Match": "*"})
        now = brand.campaign(draft.id)
    assert (now.name, now.revision) == ("Any", draft.revision + 1)


@pytest.mark.parametrize(
    ("header", "applies"),
    [
        ('"{stale}", "{current}"', True),
        ('"{current}","{stale}"', True),
        ('W/"{current}", "{current}"', True),
        ('"{stale}", W/"{current}"', False),
        ('"{stale}", "abc"', False),
    ],
)
def test_if_match_may_list_several_tags(market: Market, header: str, applies: bool) -> None:
    """RFC 9110 13.1.1: If-Match is a list, and matches when any strong tag in it is the
    current one."""
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        url = f"/api/v1/campaigns/{draft.id}"
        tags = header.format(current=draft.revision, stale=draft.revision + 7)
        try:
            status = brand.request(
                "PATCH", url, json={"name": "Listed"}, headers={"If-Match": tags}
            ).status_code
        except EndcapAPIError as refused:
            status = refused.status
        now = brand.campaign(draft.id)
    assert status == (200 if applies else 412)
    assert now.revision == draft.revision + (1 if applies else 0)


@pytest.mark.parametrize("order", ["stale first", "current first"])
def test_if_match_on_two_lines_is_one_list(market: Market, order: str) -> None:
    """RFC 9110 5.3: two header lines of a list field are that list; the first line alone
    was read, so a stale tag there refused the current one on the next line."""
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        lines = [f'"{draft.revision + 7}"', f'"{draft.revision}"']
        if order == "current first":
            lines.reverse()
        brand.request(
            "PATCH",
            f"/api/v1/campaigns/{draft.id}",
            json={"name": "Two lines"},
            headers=[("If-Match", line) for line in lines],
        )
        now = brand.campaign(draft.id)
    assert (now.name, now.revision) == ("Two lines", draft.revision + 1)


def test_an_idempotency_key_sent_twice_is_refused_and_books_nothing(market: Market) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        with pytest.raises(EndcapAPIError) as refused:
            brand.request(
                "POST",
                f"/api/v1/campaigns/{draft.id}/book",
                headers=[("Idempotency-Key", "first"), ("Idempotency-Key", "second")],
            )
        now = brand.campaign(draft.id)
    assert refused.value.status == 422
    assert "Idempotency-Key once" in refused.value.detail
    assert (now.status, now.revision) == ("draft", draft.revision)


def test_the_smallest_holdout_policy_allows_is_accepted(market: Market) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a, holdout_share="0.02"))
    assert draft.holdout_share == Decimal("0.02")


def test_money_and_shares_read_back_as_stored_from_the_first_answer(market: Market) -> None:
    body = campaign_body(market, market.a, budget="1234.5", holdout_share="0.1")
    body = json.loads(json.dumps(body, default=str))  # dates and ids as the wire has them
    with market.client(market.a.key) as brand:
        created = brand.request("POST", "/api/v1/campaigns", json=body).json()
        read = brand.request("GET", f"/api/v1/campaigns/{created['id']}").json()
    assert (created["budget"], created["holdout_share"]) == ("1234.50", "0.100")
    assert (read["budget"], read["holdout_share"]) == ("1234.50", "0.100")
    # The default holdout (a setting) reads the same from the first answer on.
    body = campaign_body(market, market.a)
    body = json.loads(json.dumps(body, default=str))
    with market.client(market.a.key) as brand:
        default = brand.request("POST", "/api/v1/campaigns", json=body).json()
        forecast = brand.request("POST", "/api/v1/forecasts", json=_forecast_of(body)).json()
    assert default["holdout_share"] == forecast["holdout_share"] == "0.100"


def test_a_rate_card_in_another_currency_is_refused_and_the_old_one_kept(market: Market) -> None:
    with market.client(market.admin_key) as admin:
        before = admin.request("GET", "/api/v1/channels").json()
        with pytest.raises(EndcapAPIError) as refused:
            admin.configure_channel(
                "email", cpm="25.00", currency="EUR", weekly_capacity=10, max_per_profile_week=1
            )
        after = admin.request("GET", "/api/v1/channels").json()
    assert refused.value.status == 422
    assert _fields(refused.value.problem) == {"/currency"}
    assert after == before


@pytest.mark.parametrize("field", ["weekly_capacity", "max_per_profile_week"])
@pytest.mark.parametrize("value", [True, "5", 5.5])
def test_a_channel_limit_must_be_a_json_whole_number(
    market: Market, field: str, value: object
) -> None:
    """``true`` stored as a capacity of 1 and oversold every booked week."""
    body = {"cpm": "25.00", "currency": "SEK", "weekly_capacity": 10**6, "max_per_profile_week": 3}
    with market.client(market.admin_key) as admin:
        before = admin.request("GET", "/api/v1/channels").json()
        with pytest.raises(EndcapAPIError) as refused:
            admin.request("PUT", "/api/v1/channels/email", json={**body, field: value})
        after = admin.request("GET", "/api/v1/channels").json()
    assert refused.value.status == 422
    assert _fields(refused.value.problem) == {f"/{field}"}
    assert after == before


def _forecast_of(body: dict[str, Any]) -> dict[str, Any]:
    fields = ("audience_id", "channels", "starts_on", "ends_on", "budget", "currency")
    return {k: body[k] for k in fields if k in body} | {"frequency_cap": body["frequency_cap"]}


def test_a_negative_zero_price_reads_back_as_zero(market: Market) -> None:
    with market.client(market.admin_key) as admin:
        before = {c["channel"]: c for c in admin.request("GET", "/api/v1/channels").json()}
        channel = before["email"]
        saved = admin.configure_channel(
            "email",
            cpm="-0",
            currency=channel["currency"],
            weekly_capacity=channel["weekly_capacity"],
            max_per_profile_week=channel["max_per_profile_week"],
        )
        shown = {c["channel"]: c for c in admin.request("GET", "/api/v1/channels").json()}
        admin.configure_channel(
            "email",
            cpm=channel["cpm"],
            currency=channel["currency"],
            weekly_capacity=channel["weekly_capacity"],
            max_per_profile_week=channel["max_per_profile_week"],
        )
    assert str(saved.cpm) == "0.00"
    assert shown["email"]["cpm"] == "0.00"
