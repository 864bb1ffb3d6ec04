"""Idempotency-Key on the POSTs that start work, over real HTTP: an upload (a load job) and
an erasure. A retry with the same key and body answers the first job or tombstone and does
the work once; the same key with another body is a 409; an upload is hashed as it streams
to the route, never held whole, and its size limit holds with a key as without.

The module has a database of its own, so every count is exact."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from endcap.client import EndcapAPIError, EndcapClient
from endcap.config import DatabaseSettings, Settings
from endcap.db.base import table_of
from endcap.db.engine import create_engine, create_session_factory
from endcap.db.types import utcnow
from endcap.idempotency.models import IdempotentRequest
from endcap.idempotency.retention import forget_expired
from tests.support.server import ServerProcess
from tests.support.stack import Stack, module_stack

PRODUCTS = (
    "sku,name,brand,manufacturer,category,department\n"
    "R-1,Milk 1L,Dairyland,Nordic Dairy,Milk,Dairy\n"
    "R-2,Oat drink,Oatly,Oat Co,Plant drinks,Dairy\n"
    "R-3,Rye bread,Pågen,Pågen AB,Bread,Bakery\n"
)
OTHER_PRODUCTS = "sku,name,brand,manufacturer,category,department\nR-9,Tea,Tetley,Tata,Tea,Drinks\n"
CUSTOMERS = "customer_id,age_band\nE-1,35-44\nE-2,25-34\n"
IDENTIFIERS = "customer_id,id_type,id_value\nE-1,email,one@example.com\nE-2,email,two@example.com\n"

IDEMPOTENT = table_of(IdempotentRequest)


stack, server, admin_key = module_stack("retries")


@pytest.fixture(scope="module")
def own_database(stack: Stack) -> str:
    return stack.url


@pytest.fixture
def retailer(server: ServerProcess, admin_key: str) -> Iterator[EndcapClient]:
    with EndcapClient(server.base_url, admin_key, timeout=120) as client:
        yield client


def _count(url: str, sql: str) -> int:
    async def count() -> int:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return int((await connection.execute(text(sql))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def _runs(client: EndcapClient, entity: str) -> list[dict[str, Any]]:
    page = client.request("GET", "/api/v1/ingest/runs", params={"entity": entity, "limit": 500})
    return list(page.json()["items"])


def _jobs(client: EndcapClient, kind: str) -> list[dict[str, Any]]:
    page = client.request("GET", "/api/v1/jobs", params={"kind": kind, "limit": 500})
    return list(page.json()["items"])


def test_a_retried_upload_answers_the_first_job_and_loads_once(
    retailer: EndcapClient, own_database: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, "products.csv", PRODUCTS)
    key = uuid.uuid4().hex
    jobs_before = len(_jobs(retailer, "ingest"))

    # Each call builds its request again: another multipart boundary, the same file.
    first = retailer.upload("products", path, idempotency_key=key)
    again = retailer.upload("products", path, idempotency_key=key)
    assert again.id == first.id
    done = retailer.wait(first.id)
    assert done.status == "succeeded", done.error
    later = retailer.upload("products", path, idempotency_key=key)
    assert later.id == first.id

    assert len(_jobs(retailer, "ingest")) == jobs_before + 1
    runs = [r for r in _runs(retailer, "products") if r["source_name"] == "products.csv"]
    assert [(r["rows_read"], r["rows_inserted"]) for r in runs] == [(3, 3)]
    assert _count(own_database, "SELECT count(*) FROM products WHERE sku LIKE 'R-%'") == 3


def test_uploads_sent_at_once_with_one_key_queue_one_job(
    retailer: EndcapClient, server: ServerProcess, admin_key: str
) -> None:
    # Each has begun (and found the key unclaimed) before any has arrived whole; the first
    # whole one claims the key, and the others stop before their route runs and answer as
    # a retry would: the first's job, or "still running".
    csv = "sku,name,brand,manufacturer,category,department\n" + "".join(
        f"C-{i},Thing {i},Acme,Acme AB,Things,Misc\n" for i in range(20_000)
    )
    key = uuid.uuid4().hex
    jobs_before = len(_jobs(retailer, "ingest"))
    halfway = threading.Barrier(4)

    def send(n: int) -> httpx.Response:
        boundary = f"{n}" * 24  # each its own, as separate clients would pick
        body = _multipart("many.csv", csv.encode(), boundary)

        def in_two_halves() -> Iterator[bytes]:
            yield body[: len(body) // 2]
            halfway.wait(timeout=30)
            time.sleep(0.3)
            yield body[len(body) // 2 :]

        return httpx.post(
            f"{server.base_url}/api/v1/ingest/products",
            content=in_two_halves(),
            headers={
                "Authorization": f"Bearer {admin_key}",
                "Idempotency-Key": key,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(send, range(1, 5)))

    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {202, 409}, [a.text for a in answers]
    assert 202 in codes
    for busy in (a for a in answers if a.status_code == 409):
        assert busy.json()["type"] == "urn:endcap:problem:idempotency-key-in-flight"
    assert len({a.json()["id"] for a in answers if a.status_code == 202}) == 1
    assert len(_jobs(retailer, "ingest")) == jobs_before + 1
    job = retailer.wait(uuid.UUID(next(a for a in answers if a.status_code == 202).json()["id"]))
    assert job.status == "succeeded", job.error
    assert job.result is not None
    assert job.result["report"]["rows_inserted"] == 20_000


def test_the_same_key_with_another_file_is_409_and_loads_nothing(
    retailer: EndcapClient, own_database: str, tmp_path: Path
) -> None:
    key = uuid.uuid4().hex
    first = retailer.upload("products", _write(tmp_path, "a.csv", PRODUCTS), idempotency_key=key)
    assert retailer.wait(first.id).status == "succeeded"
    jobs_before = len(_jobs(retailer, "ingest"))

    with pytest.raises(EndcapAPIError) as reused:
        retailer.upload("products", _write(tmp_path, "b.csv", OTHER_PRODUCTS), idempotency_key=key)

    assert reused.value.status == 409
    assert reused.value.type == "urn:endcap:problem:idempotency-key-reused"
    assert len(_jobs(retailer, "ingest")) == jobs_before
    assert _count(own_database, "SELECT count(*) FROM products WHERE sku = 'R-9'") == 0


def _peak_rss_kib(server: ServerProcess) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


BIG_MIB = 160


def test_a_large_upload_with_a_key_streams_through_and_is_never_held(
    retailer: EndcapClient, server: ServerProcess, tmp_path: Path
) -> None:
    # A file whose header the loader refuses at once: only the upload's own memory counts.
    path = tmp_path / "stores.csv"
    line = b"junk," + b"x" * 94 + b"\n"
    with path.open("wb") as out:
        out.write(b"nothing,we,know\n")
        block = line * 10_000
        for _ in range(BIG_MIB * 1024 * 1024 // len(block)):
            out.write(block)
    key = uuid.uuid4().hex
    before = _peak_rss_kib(server)

    first = retailer.upload("stores", path, idempotency_key=key)
    again = retailer.upload("stores", path, idempotency_key=key)  # hashed, not run again

    grown_mib = (_peak_rss_kib(server) - before) / 1024
    assert again.id == first.id
    # Held whole, the body would take the file's size at least (twice, as it was joined).
    assert grown_mib < BIG_MIB / 3, f"the server's peak memory grew by {grown_mib:.0f} MiB"
    failed = retailer.wait(first.id)
    assert failed.status == "failed"
    assert failed.result is not None
    assert "missing required column" in str(failed.result["report"]["rejections"])


def test_a_retried_erasure_answers_the_first_tombstone_and_erases_once(
    retailer: EndcapClient, own_database: str, tmp_path: Path
) -> None:
    for entity, body in (("customers", CUSTOMERS), ("identifiers", IDENTIFIERS)):
        loaded = retailer.wait(retailer.upload(entity, _write(tmp_path, f"{entity}.csv", body)).id)
        assert loaded.status == "succeeded", loaded.error
    tombstones_before = _count(own_database, "SELECT count(*) FROM erasure_tombstones")
    key = uuid.uuid4().hex

    first = retailer.erase(idempotency_key=key, id_type="email", value="one@example.com")
    # The same request written another way (another key order) is the same request.
    again = retailer.request(
        "POST",
        "/api/v1/erasures",
        content=b'{"value": "one@example.com", "id_type": "email"}',
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert again.json()["id"] == str(first.id)
    assert first.customers_removed == 1
    assert _count(own_database, "SELECT count(*) FROM erasure_tombstones") == tombstones_before + 1
    assert _count(own_database, "SELECT count(*) FROM customers WHERE customer_id = 'E-1'") == 0

    with pytest.raises(EndcapAPIError) as reused:
        retailer.erase(idempotency_key=key, customer_id="E-2")
    assert reused.value.status == 409
    assert reused.value.type == "urn:endcap:problem:idempotency-key-reused"
    assert _count(own_database, "SELECT count(*) FROM customers WHERE customer_id = 'E-2'") == 1
    assert _count(own_database, "SELECT count(*) FROM erasure_tombstones") == tombstones_before + 1

    without_key = retailer.erase(customer_id="E-2")  # as before: no key, no record
    assert without_key.customers_removed == 1


def test_a_key_older_than_the_retention_is_forgotten_with_its_hash_of_the_erased(
    retailer: EndcapClient, own_database: str, tmp_path: Path
) -> None:
    """The record of an erasure holds a hash of its body, which names the shopper: it goes
    once ENDCAP_IDEMPOTENCY_HOURS (24) have passed, and the key is new again."""
    body = "customer_id,age_band\nF-1,35-44\nF-2,35-44\n"
    loaded = retailer.wait(retailer.upload("customers", _write(tmp_path, "f.csv", body)).id)
    assert loaded.status == "succeeded", loaded.error
    old, fresh = uuid.uuid4().hex, uuid.uuid4().hex
    retailer.erase(idempotency_key=old, customer_id="F-1")
    retailer.erase(idempotency_key=fresh, customer_id="F-2")
    assert _kept(own_database, old) == 1
    # A day and an hour ago, as far as the record knows.
    asyncio.run(_made_at(own_database, old, utcnow() - timedelta(hours=25)))

    forgotten = asyncio.run(_forget(own_database))

    assert forgotten >= 1
    assert _kept(own_database, old) == 0
    assert _kept(own_database, fresh) == 1  # a day has not gone by yet
    # The key is new again: the request runs anew, and the shopper is no longer there.
    with pytest.raises(EndcapAPIError) as again:
        retailer.erase(idempotency_key=old, customer_id="F-1")
    assert again.value.status == 404
    replayed = retailer.erase(idempotency_key=fresh, customer_id="F-2")
    assert replayed.customers_removed == 1


async def _forget(url: str) -> int:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        return await forget_expired(create_session_factory(engine), Settings())
    finally:
        await engine.dispose()


def _kept(url: str, key: str) -> int:
    async def count() -> int:
        engine = create_engine(DatabaseSettings(url=url))
        try:
            async with engine.connect() as connection:
                query = select(func.count()).where(IDEMPOTENT.c.idempotency_key == key)
                return int((await connection.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


async def _made_at(url: str, key: str, when: datetime) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as connection:
            of_key = IDEMPOTENT.c.idempotency_key == key
            await connection.execute(update(IDEMPOTENT).where(of_key).values(created_at=when))
    finally:
        await engine.dispose()


LIMIT = 4096


@pytest.fixture(scope="module")
def small_server(own_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The same database behind a server that takes uploads of at most LIMIT bytes."""
    folder = tmp_path_factory.mktemp("small-server")
    spool = folder / "uploads"
    env = {
        "ENDCAP_DATABASE_URL": own_database,
        "ENDCAP_INGEST_MAX_UPLOAD_BYTES": str(LIMIT),
        "ENDCAP_INGEST_SPOOL_DIR": str(spool),
        "ENDCAP_WORKER_IN_PROCESS": "false",  # server's worker runs the jobs
    }
    server = ServerProcess(env, folder / "server.log").start()
    yield server, spool
    server.stop()


def _multipart(name: str, content: bytes, boundary: str) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode()


def _upload(
    server: ServerProcess, admin_key: str, csv: bytes, boundary: str, key: str, *, chunked: bool
) -> httpx.Response:
    body = _multipart("stores.csv", csv, boundary)
    headers = {
        "Authorization": f"Bearer {admin_key}",
        "Idempotency-Key": key,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    # An iterator is sent chunked, without a Content-Length to refuse it by.
    content = iter([body[i : i + 1024] for i in range(0, len(body), 1024)]) if chunked else body
    return httpx.post(
        f"{server.base_url}/api/v1/ingest/stores", content=content, headers=headers, timeout=30
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["with-length", "chunked"])
def test_an_upload_past_the_limit_with_a_key_is_413_new_key_or_known(
    small_server: Any, admin_key: str, retailer: EndcapClient, chunked: bool
) -> None:
    server, spool = small_server
    small = b"store_id,name\nK1,Kiosk\n"
    big = b"store_id,name\n" + b"S,Store\n" * 1000
    known = uuid.uuid4().hex
    accepted = _upload(server, admin_key, small, "c" * 16, known, chunked=chunked)
    assert accepted.status_code == 202, accepted.text
    assert retailer.wait(uuid.UUID(accepted.json()["id"])).status == "succeeded"

    for key in (uuid.uuid4().hex, known):
        refused = _upload(server, admin_key, big, "d" * 16, key, chunked=chunked)
        assert refused.status_code == 413, (key == known, refused.text)
        assert refused.json()["type"] == "urn:endcap:problem:payload-too-large"
    assert not any(spool.iterdir())  # nothing of the refused uploads was kept

    # The known key still answers its first upload (sent with yet another boundary).
    again = _upload(server, admin_key, small, "e" * 16, known, chunked=chunked)
    assert again.json()["id"] == accepted.json()["id"]
