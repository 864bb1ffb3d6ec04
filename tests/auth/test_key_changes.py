"""Cached keys across server processes on PostgreSQL: a change in one, or through SQL, stops
a key everywhere at once, and a process that stopped hearing of changes serves no cached
key. Two real servers on one database, over real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from endcap.auth.key_changes import CHANNEL
from endcap.auth.roles import Role
from endcap.config import DatabaseSettings
from endcap.db.change_feed import APPLICATION_NAME
from tests.support.change_feed import (
    FRESH_FOR,
    behind_the_triggers,
    listeners,
    sql,
    wait_for_listeners,
    within_the_bound,
)
from tests.support.keys import make_key, make_partner
from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.postgres
REVOKE = "UPDATE api_keys SET revoked_at = now() WHERE lookup = :lookup"


def revoke_behind_the_triggers(url: str, key: str) -> None:
    behind_the_triggers(url, REVOKE, lookup=key.split("_")[1])


def me(server: ServerProcess, key: str) -> int:
    response = httpx.get(
        f"{server.base_url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    return response.status_code


@pytest.fixture(scope="module")
def two_servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    before = listeners(database_url)
    first = start_server(database_url, tmp_path_factory.mktemp("first"))
    second = start_server(database_url, tmp_path_factory.mktemp("second"))
    try:
        wait_for_listeners(database_url, before + 2)
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture(scope="module")
def admin_of_first(database_settings: DatabaseSettings) -> str:
    return asyncio.run(make_key(database_settings, Role.RETAILER_ADMIN))


def brand_key(settings: DatabaseSettings) -> str:
    partner = asyncio.run(make_partner(settings, f"Cached keys partner {uuid.uuid4().hex[:8]}"))
    return asyncio.run(make_key(settings, Role.BRAND, partner))


def key_id(server: ServerProcess, key: str) -> str:
    response = httpx.get(
        f"{server.base_url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    found: str = response.json()["key_id"]
    return found


def test_the_second_process_serves_a_used_key_from_its_cache(
    two_servers: tuple[ServerProcess, ServerProcess],
    database_settings: DatabaseSettings,
    database_url: str,
) -> None:
    first, second = two_servers
    key = brand_key(database_settings)
    assert me(second, key) == 200  # looked up, and now kept
    revoke_behind_the_triggers(database_url, key)
    # The cache is real: without a notification the second process still knows the key,
    # while the first, which never saw it, looks it up and refuses it.
    assert me(second, key) == 200
    assert me(first, key) == 401


def test_a_key_revoked_in_one_process_is_refused_by_the_other_at_once(
    two_servers: tuple[ServerProcess, ServerProcess],
    database_settings: DatabaseSettings,
    admin_of_first: str,
) -> None:
    first, second = two_servers
    admin = {"Authorization": f"Bearer {admin_of_first}"}
    for _ in range(3):
        key = brand_key(database_settings)
        assert [me(second, key) for _ in range(3)] == [200, 200, 200]
        revoked = httpx.post(
            f"{first.base_url}/api/v1/keys/{key_id(second, key)}/revoke", headers=admin, timeout=10
        )
        assert revoked.status_code == 200
        # The answer came once no process could still accept the key: the very next
        # request anywhere is refused, however late a notification.
        assert me(second, key) == 401
        assert me(first, key) == 401


def test_a_change_made_in_sql_reaches_every_process(
    two_servers: tuple[ServerProcess, ServerProcess],
    database_settings: DatabaseSettings,
    database_url: str,
) -> None:
    first, second = two_servers
    key = brand_key(database_settings)
    assert (me(first, key), me(second, key)) == (200, 200)
    # A brand key turned into a buyer's, by hand: the next request carries the new role.
    sql(
        database_url,
        "UPDATE api_keys SET role = 'buyer', partner_id = NULL WHERE lookup = :lookup",
        lookup=key.split("_")[1],
    )

    def role_everywhere() -> set[str]:
        headers = {"Authorization": f"Bearer {key}"}
        return {
            httpx.get(f"{s.base_url}/api/v1/me", headers=headers).json()["role"]
            for s in (first, second)
        }

    within_the_bound(lambda: role_everywhere() == {"buyer"})


def test_a_rolled_back_revocation_changes_nothing(
    two_servers: tuple[ServerProcess, ServerProcess],
    database_settings: DatabaseSettings,
    database_url: str,
) -> None:
    _, second = two_servers
    key = brand_key(database_settings)
    assert me(second, key) == 200

    async def revoke_then_roll_back() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text(REVOKE), {"lookup": key.split("_")[1]})
                await connection.rollback()
        finally:
            await engine.dispose()

    asyncio.run(revoke_then_roll_back())
    assert me(second, key) == 200


def test_a_process_whose_listener_dropped_serves_no_cached_key(
    two_servers: tuple[ServerProcess, ServerProcess],
    database_settings: DatabaseSettings,
    database_url: str,
    admin_of_first: str,
) -> None:
    _, second = two_servers
    key = brand_key(database_settings)
    assert me(second, key) == 200
    count = listeners(database_url)
    sql(
        database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = :app",
        app=APPLICATION_NAME,
    )
    # A change nobody hears of while nobody listens: the key must not be served from memory
    # once the process knows (it sees the connection end, or its heartbeats stop), nor
    # after it listens again.
    revoke_behind_the_triggers(database_url, key)
    time.sleep(FRESH_FOR)
    assert me(second, key) == 401
    wait_for_listeners(database_url, count)
    assert me(second, key) == 401

    # Listening again, the cache works again and revocations still reach it.
    fresh = brand_key(database_settings)
    assert [me(second, fresh) for _ in range(2)] == [200, 200]
    revoke_behind_the_triggers(database_url, fresh)
    assert me(second, fresh) == 200  # served from the cache again
    sql(database_url, f"NOTIFY {CHANNEL}")  # what every trigger sends
    within_the_bound(lambda: me(second, fresh) == 401)


def test_nothing_is_cached_while_a_trigger_is_disabled(
    two_servers: tuple[ServerProcess, ServerProcess],
    database_settings: DatabaseSettings,
    database_url: str,
) -> None:
    _, second = two_servers
    sql(database_url, "ALTER TABLE partners DISABLE TRIGGER partners_notify_change")
    try:
        time.sleep(FRESH_FOR)  # a heartbeat finds it off
        key = brand_key(database_settings)
        assert [me(second, key) for _ in range(2)] == [200, 200]
        revoke_behind_the_triggers(database_url, key)
        assert me(second, key) == 401  # looked up, not remembered
    finally:
        sql(database_url, "ALTER TABLE partners ENABLE TRIGGER partners_notify_change")
    time.sleep(FRESH_FOR)  # listening again, for the tests after this one
