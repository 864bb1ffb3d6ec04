"""A request's statements share one pool checkout, and a request waiting on its client holds
none: a client that sends its body slowly must not keep others from the database."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import databases
from tests.support.names import unique
from tests.support.server import ServerProcess

PROBE = """
CREATE TABLE connection_probe (seen serial, what text NOT NULL, pid int NOT NULL);
CREATE FUNCTION probe_connection() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN
  INSERT INTO connection_probe (what, pid) VALUES (TG_TABLE_NAME || ' ' || TG_OP, pg_backend_pid());
  RETURN NEW;
END $$;
CREATE TRIGGER probe_claims AFTER INSERT OR UPDATE ON idempotent_requests
FOR EACH ROW WHEN (NEW.idempotency_key LIKE 'probe-%') EXECUTE FUNCTION probe_connection();
CREATE TRIGGER probe_partners AFTER INSERT ON partners
FOR EACH ROW WHEN (NEW.name LIKE 'Probe %') EXECUTE FUNCTION probe_connection();
CREATE FUNCTION slow_partner() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$;
CREATE TRIGGER slow_partners BEFORE INSERT ON partners
FOR EACH ROW WHEN (NEW.name LIKE 'Slow %') EXECUTE FUNCTION slow_partner();
"""
UNPROBE = """
DROP TRIGGER probe_claims ON idempotent_requests; DROP TRIGGER probe_partners ON partners;
DROP TRIGGER slow_partners ON partners; DROP FUNCTION slow_partner();
DROP FUNCTION probe_connection(); DROP TABLE connection_probe;
"""


async def _probed(url: str) -> list[tuple[str, int]]:
    import asyncpg  # noqa: PLC0415  (only this test reads PostgreSQL directly)

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await connection.fetch("SELECT what, pid FROM connection_probe ORDER BY seen")
    finally:
        await connection.close()
    return [(row["what"], row["pid"]) for row in rows]


@pytest.mark.postgres
async def test_the_claim_the_work_and_the_recorded_answer_run_on_one_connection(
    server: ServerProcess, admin_key: str, database_url: str
) -> None:
    headers = {"Authorization": f"Bearer {admin_key}"}
    await databases.execute(database_url, PROBE)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
        try:
            # Slow creates at once leave several connections idle in the pool, so that
            # separate checkouts would get different ones.
            slow = await asyncio.gather(
                *(
                    http.post("/api/v1/partners", json={"name": unique("Slow"), "kind": "agency"})
                    for _ in range(4)
                )
            )
            assert [answer.status_code for answer in slow] == [201] * 4
            created = await http.post(
                "/api/v1/partners",
                json={"name": f"Probe {uuid.uuid4().hex[:8]}", "kind": "agency"},
                headers={"Idempotency-Key": f"probe-{uuid.uuid4().hex}"},
            )
            seen = await _probed(database_url)
        finally:
            await databases.execute(database_url, UNPROBE)
    assert created.status_code == 201, created.text
    assert [what for what, _ in seen] == [
        "idempotent_requests INSERT",  # the claim, committed before the handler ran
        "partners INSERT",  # the handler's transaction
        "idempotent_requests UPDATE",  # the answer, recorded before the client had it
    ]
    assert len({pid for _, pid in seen}) == 1


@pytest.fixture(scope="module")
def one_connection_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """Endcap with a pool of one connection that no request waits more than 2 s for."""
    folder: Path = tmp_path_factory.mktemp("one-connection")
    env = {
        "ENDCAP_DATABASE_URL": database_url,
        "ENDCAP_DATABASE_POOL_SIZE": "1",
        "ENDCAP_DATABASE_MAX_OVERFLOW": "0",
        "ENDCAP_DATABASE_POOL_TIMEOUT": "2",
    }
    server = ServerProcess(env, folder / "server.log").start()
    yield server
    server.stop()


@pytest.mark.postgres  # SQLite's pool is not sized by these settings
@pytest.mark.parametrize(
    ("padding", "status"),
    # A small body is read before the request checks out a connection; a large one streams
    # after authentication has given its connection back (and its unknown field is a 422).
    [(0, b"201"), (200_000, b"422")],
    ids=["small body", "large body"],
)
def test_a_client_slow_to_send_its_body_holds_no_connection(
    one_connection_server: ServerProcess, admin_key: str, padding: int, status: bytes
) -> None:
    server = one_connection_server
    fields = {"name": unique("Slow"), "kind": "agency"}
    if padding:
        fields["pad"] = "x" * padding
    body = json.dumps(fields).encode()
    head = (
        f"POST /api/v1/partners HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {admin_key}\r\nIdempotency-Key: {uuid.uuid4().hex}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as slow:
        slow.sendall(head + body[:10])
        time.sleep(0.5)  # the server has the headers and is waiting for the rest
        # The only connection must be free for others meanwhile (else 503 after 2 s).
        for _ in range(3):
            other = httpx.get(
                f"{server.base_url}/api/v1/partners",
                headers={"Authorization": f"Bearer {admin_key}"},
                timeout=10,
            )
            assert other.status_code == 200, other.text
        slow.sendall(body[10:])
        answer = _read_answer(slow)
    assert answer.split(b" ", 2)[1] == status, answer[:300]


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


FAILING_COMMIT = """
CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON partners
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.name LIKE 'Refused %')
EXECUTE FUNCTION refuse_at_commit();
"""


@pytest.mark.postgres  # a trigger that fires at COMMIT
async def test_a_request_whose_commit_fails_leaves_its_key_free_for_a_retry(
    server: ServerProcess, admin_key: str, database_url: str
) -> None:
    # The failed commit leaves the request's one connection to forget the claim on.
    headers = {"Authorization": f"Bearer {admin_key}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"name": f"Refused {uuid.uuid4().hex[:8]}", "kind": "agency"}
    await databases.execute(database_url, FAILING_COMMIT)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
        try:
            failed = await http.post("/api/v1/partners", json=body)
            again = await http.post("/api/v1/partners", json=body)
        finally:
            await databases.execute(
                database_url,
                "DROP TRIGGER refuse_at_commit ON partners; DROP FUNCTION refuse_at_commit();",
            )
        retried = await http.post("/api/v1/partners", json=body)
    assert failed.status_code >= 500, failed.text
    assert again.status_code == failed.status_code, again.text  # run again, not "in flight"
    assert retried.status_code == 201, retried.text


KILLING_INSERT = """
CREATE FUNCTION kill_own_backend() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
CREATE TRIGGER kill_own_backend BEFORE INSERT ON partners
FOR EACH ROW WHEN (NEW.name LIKE 'Killed %') EXECUTE FUNCTION kill_own_backend();
"""


@pytest.mark.postgres  # a server that drops the connection mid-request
async def test_a_request_whose_connection_dies_leaves_its_key_free_for_a_retry(
    server: ServerProcess, admin_key: str, database_url: str
) -> None:
    # The claim is on record; then the server drops the request's connection. Forgetting
    # the claim takes a new one, so the retry runs instead of waiting out a stale claim.
    headers = {"Authorization": f"Bearer {admin_key}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"name": f"Killed {uuid.uuid4().hex[:8]}", "kind": "agency"}
    await databases.execute(database_url, KILLING_INSERT)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
        try:
            failed = await http.post("/api/v1/partners", json=body)
        finally:
            await databases.execute(
                database_url,
                "DROP TRIGGER kill_own_backend ON partners; DROP FUNCTION kill_own_backend();",
            )
        retried = await http.post("/api/v1/partners", json=body)
    assert failed.status_code == 503, failed.text
    assert retried.status_code == 201, retried.text


async def _drop_idle(url: str) -> int:
    """Ends the server's connections idle in its pool, as a restart of PostgreSQL would."""
    import asyncpg  # noqa: PLC0415  (only this test reads PostgreSQL directly)

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        dropped: int = await connection.fetchval(
            # Waits until they are gone (up to 5 s), as after a restart: the server has been
            # told before the next request (with a cached key, its first checkout relies on
            # asyncpg knowing the connection closed, engine.locally_checked).
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'endcap'"
            " AND state = 'idle'"
        )
    finally:
        await connection.close()
    return dropped


@pytest.mark.postgres  # a server that drops the connections idle in the pool
async def test_a_connection_dropped_while_idle_in_the_pool_is_replaced_before_the_request(
    one_connection_server: ServerProcess, admin_key: str, database_url: str
) -> None:
    # A request's first checkout is not pinged: its API key look-up shows the connection
    # alive, and runs again on a pinged one when the server had dropped it meanwhile; with
    # the key cached, asyncpg knows the dropped connection closed and it is replaced.
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(
        base_url=one_connection_server.base_url, headers=headers, timeout=30
    ) as http:
        assert (await http.get("/api/v1/me")).status_code == 200  # the pool's one connection
        dropped = await _drop_idle(database_url)
        me = await http.get("/api/v1/me")
        await _drop_idle(database_url)
        created = await http.post(
            "/api/v1/partners",
            json={"name": unique("Redialled"), "kind": "agency"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert dropped >= 1
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "retailer_admin"
    assert created.status_code == 201, created.text
