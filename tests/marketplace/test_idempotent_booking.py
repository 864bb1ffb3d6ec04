"""A retried booking over the real server: the same Idempotency-Key books once and answers
the same; the key sent again for another campaign, or with a body, is a 409 that books
nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from endcap.client import EndcapClient
from tests.marketplace.booking import campaign_body
from tests.marketplace.conftest import Market

CHANNEL = "email"


def booked(admin: EndcapClient, body: dict[str, Any]) -> int:
    weeks = admin.capacity(CHANNEL, first=body["starts_on"], last=body["ends_on"])
    return sum(w.booked for w in weeks)


def book(market: Market, campaign_id: uuid.UUID, key: str, **kwargs: Any) -> httpx.Response:
    """POST .../book as brand A's retry sends it: the raw answer (status, body, ETag)."""
    return httpx.post(
        f"{market.server.base_url}/api/v1/campaigns/{campaign_id}/book",
        headers={"Authorization": f"Bearer {market.a.key}", "Idempotency-Key": key},
        timeout=60,
        **kwargs,
    )


def test_a_replayed_booking_answers_the_same_and_takes_capacity_once(market: Market) -> None:
    body = campaign_body(market, market.a, channels=[CHANNEL])
    key = uuid.uuid4().hex
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        draft = brand.create_campaign(**body)
        before = booked(admin, body)
        first = book(market, draft.id, key)
        taken = booked(admin, body)
        again = book(market, draft.id, key)
        after = booked(admin, body)
        events = brand.campaign_events(draft.id)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert first.json()["status"] == "submitted"
    impressions = first.json()["booked_impressions"]
    assert impressions > 0
    assert taken - before == impressions
    assert after == taken  # the replay took nothing more
    assert [e.action for e in events] == ["create", "book"]


def test_the_same_key_for_another_campaign_or_with_a_body_is_409_and_books_nothing(
    market: Market,
) -> None:
    body = campaign_body(market, market.a, channels=[CHANNEL])
    key = uuid.uuid4().hex
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        first, other = brand.create_campaign(**body), brand.create_campaign(**body)
        assert book(market, first.id, key).status_code == 200
        before = booked(admin, body)
        elsewhere = book(market, other.id, key)
        with_body = book(market, first.id, key, json={"note": "again"})
        after = booked(admin, body)
        untouched = brand.campaign(other.id)
    for refused in (elsewhere, with_body):
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["type"] == "urn:endcap:problem:idempotency-key-reused"
        assert problem["detail"] == "this Idempotency-Key was used for a different request"
    assert elsewhere.json()["instance"] == f"/api/v1/campaigns/{other.id}/book"
    assert (untouched.status, untouched.booked_impressions) == ("draft", None)
    assert after == before


def test_concurrent_retries_of_one_booking_book_it_once(market: Market) -> None:
    body = campaign_body(market, market.a, channels=[CHANNEL])
    key = uuid.uuid4().hex
    with market.client(market.a.key) as brand, market.client(market.admin_key) as admin:
        draft = brand.create_campaign(**body)
        before = booked(admin, body)
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: book(market, draft.id, key), range(6)))
        after = booked(admin, body)
        events = brand.campaign_events(draft.id)
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 409}, [a.text for a in answers]
    ok = [a.json() for a in answers if a.status_code == 200]
    assert ok
    assert all(a == ok[0] for a in ok)
    assert {a.json()["type"] for a in answers if a.status_code == 409} <= {
        "urn:endcap:problem:idempotency-key-in-flight"
    }
    assert after - before == ok[0]["booked_impressions"]
    assert [e.action for e in events] == ["create", "book"]
