"""Idempotency-Key over real HTTP: a retry gets the first answer and creates nothing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from endcap.client import EndcapClient
from endcap.config import DatabaseSettings
from endcap.db.session import standalone_session
from endcap.db.types import utcnow
from endcap.idempotency.models import IdempotentRequest
from endcap.idempotency.repository import STALE_AFTER
from tests.support import databases
from tests.support.names import unique
from tests.support.server import ServerProcess


def _post(
    server: ServerProcess, key: str, body: dict[str, object], idem: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return httpx.post(f"{server.base_url}/api/v1/partners", json=body, headers=headers, timeout=30)


def test_a_retry_returns_the_first_answer_and_creates_once(
    server: ServerProcess, admin_key: str, admin: EndcapClient
) -> None:
    body = {"name": unique("Retry Foods"), "kind": "manufacturer"}
    idem = uuid.uuid4().hex

    first = _post(server, admin_key, body, idem)
    again = _post(server, admin_key, body, idem)

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    names = [p.name for p in admin.iter_partners(limit=500)]
    assert names.count(str(body["name"])) == 1


SLOW_RECORDING = """
CREATE FUNCTION slow_recording() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$;
CREATE TRIGGER slow_recording BEFORE UPDATE ON idempotent_requests
FOR EACH ROW WHEN (NEW.idempotency_key LIKE 'slow-%') EXECUTE FUNCTION slow_recording();
"""


@pytest.mark.postgres
def test_a_retry_sent_the_moment_the_answer_arrives_gets_that_answer(
    server: ServerProcess, admin_key: str, database_url: str
) -> None:
    # Recording the answer is made slow (a trigger on this test's keys only). If the
    # client could read the answer before it is on record, its instant retry would find
    # the first request "still running" and get a 409.
    databases.run_sql(database_url, SLOW_RECORDING)
    try:
        idem = {"Idempotency-Key": f"slow-{uuid.uuid4().hex}"}
        body = {"name": unique("Quick"), "kind": "agency"}
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
        ) as http:
            first = http.post("/api/v1/partners", json=body, headers=idem)
            again = http.post("/api/v1/partners", json=body, headers=idem)
    finally:
        databases.run_sql(
            database_url,
            "DROP TRIGGER slow_recording ON idempotent_requests; DROP FUNCTION slow_recording();",
        )
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()


BROKEN_RECORDING = """
CREATE FUNCTION broken_recording() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'recording is down'; END $$;
CREATE TRIGGER broken_recording BEFORE UPDATE ON idempotent_requests
FOR EACH ROW WHEN (NEW.idempotency_key LIKE 'broken-%') EXECUTE FUNCTION broken_recording();
"""


@pytest.mark.postgres
def test_an_answer_that_cannot_be_recorded_still_reaches_the_client_and_is_not_run_twice(
    server: ServerProcess, admin_key: str, admin: EndcapClient, database_url: str
) -> None:
    # The partner is created and committed; only recording the answer fails. The client
    # must still get its 201, and a retry must not create the partner a second time.
    databases.run_sql(database_url, BROKEN_RECORDING)
    try:
        idem = f"broken-{uuid.uuid4().hex}"
        body = {"name": unique("Unrecorded"), "kind": "agency"}
        first = _post(server, admin_key, body, idem)
        again = _post(server, admin_key, body, idem)
    finally:
        databases.run_sql(
            database_url,
            "DROP TRIGGER broken_recording ON idempotent_requests;"
            " DROP FUNCTION broken_recording();",
        )
    assert first.status_code == 201, first.text
    assert again.status_code == 409
    assert again.json()["type"] == "urn:endcap:problem:idempotency-key-in-flight"
    names = [p.name for p in admin.iter_partners(limit=500)]
    assert names.count(str(body["name"])) == 1


async def test_a_claim_left_running_is_taken_over_only_once_it_is_stale(
    server: ServerProcess, admin_key: str, admin: EndcapClient, database_settings: DatabaseSettings
) -> None:
    # A request whose server died leaves its claim "running". A retry gets a 409 while
    # the claim may still be live, and runs once it has gone stale.
    key_id = admin.me().key_id
    live, dead = uuid.uuid4().hex, uuid.uuid4().hex
    async with standalone_session(database_settings) as session:
        for key, age in ((live, timedelta(minutes=1)), (dead, STALE_AFTER + timedelta(minutes=1))):
            session.add(
                IdempotentRequest(
                    key_id=key_id,
                    idempotency_key=key,
                    fingerprint="0" * 64,
                    created_at=utcnow() - age,
                )
            )
    body = {"name": unique("Taken over"), "kind": "agency"}

    waiting = await asyncio.to_thread(_post, server, admin_key, body, live)
    taken = await asyncio.to_thread(_post, server, admin_key, body, dead)
    replayed = await asyncio.to_thread(_post, server, admin_key, body, dead)

    assert waiting.status_code == 409
    assert (taken.status_code, replayed.status_code) == (201, 201)
    assert replayed.json() == taken.json()


def test_the_same_key_with_another_body_is_409(server: ServerProcess, admin_key: str) -> None:
    idem = uuid.uuid4().hex
    assert _post(server, admin_key, {"name": unique("One")}, idem).status_code == 201

    other = _post(server, admin_key, {"name": unique("Two")}, idem)

    assert other.status_code == 409
    assert other.json()["type"] == "urn:endcap:problem:idempotency-key-reused"


def test_a_failed_request_can_be_retried_with_its_key(
    server: ServerProcess, admin_key: str
) -> None:
    idem = uuid.uuid4().hex
    name = unique("Later")
    assert _post(server, admin_key, {"name": name, "kind": "planet"}, idem).status_code == 422

    assert _post(server, admin_key, {"name": name, "kind": "agency"}, idem).status_code == 201


def test_keys_belong_to_the_api_key_that_sent_them(
    server: ServerProcess, admin_key: str, admin: EndcapClient
) -> None:
    other_admin = admin.create_key("second admin", admin.me().role).key
    idem = uuid.uuid4().hex
    a = _post(server, admin_key, {"name": unique("Mine")}, idem)
    b = _post(server, other_admin, {"name": unique("Yours")}, idem)

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_concurrent_retries_create_exactly_one(
    server: ServerProcess, admin_key: str, admin: EndcapClient
) -> None:
    body = {"name": unique("Racing Foods")}
    idem = uuid.uuid4().hex

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: _post(server, admin_key, body, idem), range(6)))

    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {201, 409}
    assert codes.count(201) >= 1
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(created) == 1
    names = [p.name for p in admin.iter_partners(limit=500)]
    assert names.count(str(body["name"])) == 1


def _post_raw(server: ServerProcess, key: str, body: bytes, idem: str) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {key}",
        "Idempotency-Key": idem,
        "Content-Type": "application/json",
    }
    return httpx.post(
        f"{server.base_url}/api/v1/partners", content=body, headers=headers, timeout=30
    )


def test_the_same_json_in_another_key_order_or_layout_is_a_retry(
    server: ServerProcess, admin_key: str, admin: EndcapClient
) -> None:
    # A client that rebuilds its body for a retry (another JSON library, a pretty-printer)
    # sends the same request; it must get the first answer, not a 409.
    name = unique("Reordered")
    idem = uuid.uuid4().hex
    compact = json.dumps({"name": name, "kind": "agency"}, separators=(",", ":")).encode()
    reordered = json.dumps({"kind": "agency", "name": name}, indent=4).encode()
    escaped = b'{ "kind" : "agency" ,\n "name" : ' + json.dumps(name).encode() + b"}\r\n"

    first = _post_raw(server, admin_key, compact, idem)
    again = _post_raw(server, admin_key, reordered, idem)
    third = _post_raw(server, admin_key, escaped, idem)

    assert (first.status_code, again.status_code, third.status_code) == (201, 201, 201), again.text
    assert again.json() == third.json() == first.json()
    names = [p.name for p in admin.iter_partners(limit=500)]
    assert names.count(name) == 1


def test_json_that_says_something_else_is_still_409(server: ServerProcess, admin_key: str) -> None:
    name = unique("Literal")
    idem = uuid.uuid4().hex
    first = _post_raw(
        server, admin_key, json.dumps({"name": name, "kind": "agency"}).encode(), idem
    )
    other_kind = _post_raw(
        server, admin_key, json.dumps({"kind": "manufacturer", "name": name}).encode(), idem
    )
    extra_field = _post_raw(
        server, admin_key, json.dumps({"name": name, "kind": "agency", "x": None}).encode(), idem
    )

    assert first.status_code == 201
    for answer in (other_kind, extra_field):
        assert answer.status_code == 409
        assert answer.json()["type"] == "urn:endcap:problem:idempotency-key-reused"


async def test_a_new_keys_secret_is_never_recorded_and_a_retry_gets_it_as_null(
    server: ServerProcess, admin_key: str, database_settings: DatabaseSettings
) -> None:
    idem = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {admin_key}", "Idempotency-Key": idem}
    body = {"name": unique("reporting"), "role": "buyer"}

    def create() -> httpx.Response:
        return httpx.post(f"{server.base_url}/api/v1/keys", json=body, headers=headers, timeout=30)

    first = await asyncio.to_thread(create)
    again = await asyncio.to_thread(create)

    assert (first.status_code, again.status_code) == (201, 201)
    secret = first.json()["key"]
    assert isinstance(secret, str)
    assert secret.startswith("ek_")
    assert again.json() == {**first.json(), "key": None}  # the same key, once
    async with standalone_session(database_settings) as session:
        recorded = (
            await session.exec(
                select(IdempotentRequest).where(IdempotentRequest.idempotency_key == idem)
            )
        ).one()
    assert recorded.response is not None
    assert recorded.response["id"] == first.json()["id"]
    assert secret not in json.dumps(recorded.response)
    me = await asyncio.to_thread(
        httpx.get,
        f"{server.base_url}/api/v1/me",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert me.status_code == 200
