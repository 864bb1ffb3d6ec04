"""A campaign on several audiences, over the real server: the forecast reaches their union
(rounded, from catalog numbers only), booking pins every version, approval checks each
audience, and the export holds each treatment shopper once. Exact retailer-side counts come
from audiences the retailer refreshes but never publishes: the union and the intersection."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from endcap.audiences.schemas import AudiencePublic
from endcap.client import EndcapAPIError, EndcapClient
from endcap.privacy.sizes import round_count
from tests.audiences.http import create, create_rule, refresh
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import MIN_AUDIENCE, Market

CHANNEL = "onsite_display"
LOYAL = {"attribute": "loyalty_tier", "op": "in", "value": ["silver", "gold", "platinum"]}
GROWN_UP = {"attribute": "age_band", "op": "in", "value": ["35-44", "45-54", "55-64", "65+"]}


def shown(n: int) -> int:
    """A count as the catalog shows it (the overlap endpoint's threshold: none below it)."""
    return round_count(n, minimum=MIN_AUDIENCE).value or 0


@dataclass(frozen=True, slots=True)
class Pair:
    loyal: AudiencePublic  # published, premium 3.00
    grown_up: AudiencePublic  # published, premium 1.50
    union: AudiencePublic  # LOYAL or GROWN_UP: never published, exact counts for the tests
    both: AudiencePublic  # LOYAL and GROWN_UP: the same

    @property
    def ids(self) -> list[uuid.UUID]:
        return [self.loyal.id, self.grown_up.id]


def exact(audience: AudiencePublic, channel: str = CHANNEL) -> int:
    assert audience.current is not None
    return audience.current.reach[channel]


def size(audience: AudiencePublic) -> int:
    assert audience.current is not None
    return audience.current.size


def versions_now(market: Market, ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, int]]:
    """Each audience's current version, as the retailer reads it (a test may refresh one)."""
    with market.client(market.admin_key) as admin:
        read = [
            AudiencePublic.model_validate(admin.request("GET", f"/api/v1/audiences/{a}").json())
            for a in ids
        ]
    return [(a.id, a.current.version) for a in read if a.current is not None]


@pytest.fixture(scope="module")
def pair(market: Market) -> Pair:
    with market.client(market.admin_key) as admin:
        loyal = refresh(admin, create(admin, rule=LOYAL, cpm="3.00", currency="SEK").id)
        grown_up = refresh(admin, create(admin, rule=GROWN_UP, cpm="1.50", currency="SEK").id)
        for audience in (loyal, grown_up):
            published = admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
            assert published.status_code == 200, published.text
        union = refresh(admin, create_rule(admin, {"or": [LOYAL, GROWN_UP]}).id)
        both = refresh(admin, create_rule(admin, {"and": [LOYAL, GROWN_UP]}).id)
    found = Pair(loyal, grown_up, union, both)
    # Two audiences that overlap by more than the minimum, so the overlap shows.
    assert exact(both) >= MIN_AUDIENCE
    assert exact(loyal) + exact(grown_up) - exact(both) == exact(union)
    return found


def forecast_body(market: Market, ids: list[uuid.UUID], **overrides: Any) -> dict[str, Any]:
    body = campaign_body(market, market.a, audience_ids=ids)
    keys = ("channels", "starts_on", "ends_on", "frequency_cap")
    return {"audience_ids": ids, **{k: body[k] for k in keys}, **overrides}


def test_the_forecast_reaches_the_rounded_union_not_the_sum(market: Market, pair: Pair) -> None:
    with market.client(market.a.key) as brand:
        forecast = brand.forecast(**forecast_body(market, pair.ids))
        catalog = {e.id: e for e in brand.audience_catalog()}
    (line,) = forecast.lines
    seen = [next(c.reach for c in catalog[a].channels if c.channel == CHANNEL) for a in pair.ids]
    assert seen == [shown(exact(pair.loyal)), shown(exact(pair.grown_up))]
    # The catalog's two reaches less their overlap, as the overlap endpoint would show it.
    assert line.reach == seen[0] + seen[1] - shown(exact(pair.both))
    assert line.reach < seen[0] + seen[1]
    assert abs(line.reach - exact(pair.union)) <= 150  # three roundings of at most 50
    assert line.reach % 100 == 0
    assert line.treatment_reach == round(line.reach * 0.9)
    # The dearest premium of the two, once: 40.00 onsite + 3.00.
    assert line.cpm == Decimal("43.00")
    assert forecast.audience_ids == pair.ids
    assert [(a.id, a.version) for a in forecast.audiences] == versions_now(market, pair.ids)


def test_booking_pins_both_versions_and_a_later_refresh_changes_nothing(
    market: Market, pair: Pair
) -> None:
    body = campaign_body(market, market.a, audience_ids=pair.ids)
    del body["audience_id"]
    pinned = versions_now(market, pair.ids)
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        forecast = brand.forecast(**forecast_body(market, pair.ids))
        draft = brand.create_campaign(**body)
        booked = brand.book(draft.id)
        refreshed = refresh(admin, pair.loyal.id)
        again = brand.campaign(booked.id)
        checks = admin.approval(booked.id).checks
        approved = admin.act(booked.id, "approve")
    assert draft.audience_ids == pair.ids
    assert [a.version for a in draft.audiences] == [None, None]
    assert [(a.id, a.version) for a in booked.audiences] == pinned
    assert refreshed.current is not None
    assert refreshed.current.version == pinned[0][1] + 1
    assert [(a.id, a.version) for a in again.audiences] == pinned
    assert (again.lines, again.booked_impressions) == (booked.lines, booked.booked_impressions)
    assert booked.lines[0].reach == forecast.lines[0].reach
    assert booked.booked_impressions == forecast.impressions
    assert booked.booked_cost == forecast.cost
    audience_checks = [c for c in checks if c.name == "audience"]
    assert [c.audience_id for c in audience_checks] == pair.ids
    assert all(c.passed for c in audience_checks)
    assert f"pinned version {pinned[0][1]} of audience {pair.loyal.id}" in audience_checks[0].detail
    assert approved.status == "approved"


def test_the_export_holds_each_treatment_shopper_of_the_union_once(
    market: Market, pair: Pair
) -> None:
    body = campaign_body(market, market.a, audience_ids=pair.ids, channels=["onsite_display"])
    del body["audience_id"]
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        campaign = brand.book(brand.create_campaign(**body).id)
        admin.act(campaign.id, "approve")
        admin.act(campaign.id, "schedule")
        (activation,) = _delivered(admin, campaign.id)
        seen = brand.activations(campaign.id).items
    rows = (market.drop_dir / str(campaign.id) / f"onsite_display-{activation.id}.csv").read_text()
    exported = [int(r) for r in rows.splitlines()[1:]]
    # The union, each shopper once: not the two audiences' sizes added up.
    assert activation.members == size(pair.union)
    assert activation.members < size(pair.loyal) + size(pair.grown_up)
    assert (
        activation.holdout_excluded
        + activation.no_consent_excluded
        + activation.pressure_excluded
        + activation.exported
        == activation.members
    )
    assert exported == sorted(set(exported))  # ascending, nobody twice
    assert len(exported) == activation.exported
    assert 0 < activation.exported <= exact(pair.union)  # consenting shoppers of the union
    # Rounded, the union's count beside the two catalog sizes would give their overlap.
    assert (seen[0].members, seen[0].exported) == (None, None)


def _delivered(admin: EndcapClient, campaign_id: uuid.UUID) -> list[Any]:
    deadline = time.monotonic() + 60
    while True:
        activations = admin.activations(campaign_id).items
        if activations and all(a.status in ("delivered", "failed") for a in activations):
            assert {a.status for a in activations} == {"delivered"}
            return activations
        assert time.monotonic() < deadline, activations
        time.sleep(0.2)


def test_one_audience_id_still_works_and_answers_in_the_list_form(market: Market) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        forecast = brand.forecast(**forecast_body(market, [market.audience_id]))
    assert draft.audience_ids == [market.audience_id]
    assert [(a.id, a.version) for a in draft.audiences] == [(market.audience_id, None)]
    assert forecast.audience_ids == [market.audience_id]


def test_a_draft_changes_its_audiences_with_if_match(market: Market, pair: Pair) -> None:
    with market.client(market.a.key) as brand:
        draft = brand.create_campaign(**campaign_body(market, market.a))
        both = brand.update_campaign(draft.id, draft.revision, audience_ids=pair.ids)
        with pytest.raises(EndcapAPIError) as twice:
            brand.update_campaign(
                draft.id, both.revision, audience_ids=[pair.loyal.id, pair.loyal.id]
            )
        one = brand.update_campaign(draft.id, both.revision, audience_id=pair.grown_up.id)
        booked = brand.book(draft.id)
    assert both.audience_ids == pair.ids
    assert twice.value.status == 422
    assert _fields(twice.value.problem) == {"/audience_ids/1"}
    assert one.audience_ids == [pair.grown_up.id]
    assert [a.id for a in booked.audiences] == [pair.grown_up.id]


@pytest.fixture(scope="module")
def invisible(market: Market) -> dict[str, uuid.UUID]:
    """Audiences no brand can book: one never published, one published and then deleted."""
    with market.client(market.admin_key) as admin:
        draft = refresh(admin, create_rule(admin, {"not": GROWN_UP}).id)
        gone = refresh(admin, create_rule(admin, {"not": LOYAL}).id)
        published = admin.request("POST", f"/api/v1/audiences/{gone.id}/publish")
        assert published.status_code == 200, published.text
        admin.request("DELETE", f"/api/v1/audiences/{gone.id}")
    return {"unpublished": draft.id, "deleted": gone.id, "unknown": uuid.uuid4()}


def _fields(problem: dict[str, Any]) -> set[str]:
    return {str(e.get("field")) for e in problem.get("errors", [])}


BAD_LISTS = [
    ("an id twice", lambda p, x: [p.loyal.id, p.grown_up.id, p.loyal.id], "/audience_ids/2"),
    ("an unknown id", lambda p, x: [p.loyal.id, x["unknown"]], "/audience_ids/1"),
    ("an unpublished one", lambda p, x: [p.loyal.id, x["unpublished"]], "/audience_ids/1"),
    ("a deleted one", lambda p, x: [x["deleted"], p.grown_up.id], "/audience_ids/0"),
]


@pytest.mark.parametrize(
    ("label", "ids", "field"), BAD_LISTS, ids=[label for label, _, _ in BAD_LISTS]
)
def test_a_bad_audience_list_is_refused_pointing_at_the_entry(
    market: Market,
    pair: Pair,
    invisible: dict[str, uuid.UUID],
    label: str,
    ids: Any,
    field: str,
) -> None:
    audience_ids = ids(pair, invisible)
    body = campaign_body(market, market.a, audience_ids=audience_ids)
    del body["audience_id"]
    with market.client(market.a.key) as a, market.client(market.b.key) as b:
        before = len(a.campaigns(limit=200).items)
        with pytest.raises(EndcapAPIError) as booking:
            a.create_campaign(**body)
        with pytest.raises(EndcapAPIError) as forecast:
            b.forecast(**forecast_body(market, audience_ids))
        after = len(a.campaigns(limit=200).items)
    for refused in (booking, forecast):
        assert refused.value.status == 422, label
        assert _fields(refused.value.problem) == {field}
    assert after == before
    if label != "an id twice":
        # Unknown, never published and deleted read the same, but for the id itself.
        missing = audience_ids[int(field.rsplit("/", 1)[1])]
        assert booking.value.detail == (
            f"no bookable audience with id {missing}: it must be published "
            "and at or above the minimum size"
        )


@pytest.mark.parametrize(
    ("label", "change", "field"),
    [
        ("both forms", {"audience_ids": "ids", "audience_id": "one"}, "/audience_id"),
        ("neither form", {}, "/audience_ids"),
        ("an empty list", {"audience_ids": []}, "/audience_ids"),
        ("eleven audiences", {"audience_ids": "eleven"}, "/audience_ids"),
    ],
)
def test_audiences_must_be_named_once_in_one_form(
    market: Market, pair: Pair, label: str, change: dict[str, Any], field: str
) -> None:
    values = {"ids": pair.ids, "one": pair.loyal.id, "eleven": [uuid.uuid4() for _ in range(11)]}
    named = {k: values.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    body = campaign_body(market, market.a)
    del body["audience_id"]
    forecast = forecast_body(market, pair.ids)
    del forecast["audience_ids"]
    with market.client(market.a.key) as brand:
        with pytest.raises(EndcapAPIError) as booking:
            brand.create_campaign(**body, **named)
        with pytest.raises(EndcapAPIError) as forecasting:
            brand.forecast(**forecast, **named)
    for refused in (booking, forecasting):
        assert refused.value.status == 422, label
        assert any(field in f for f in _fields(refused.value.problem)), refused.value.problem
