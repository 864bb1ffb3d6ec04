"""A NUL character (JSON ``\\u0000``) anywhere in a body or a query is refused with a 422
naming where it is, and nothing is stored: PostgreSQL cannot hold one in text and raised
a 500, SQLite took it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.server import ServerProcess

NUL = "\u0000"
RULE = {"trait": "spend_52w", "op": ">", "value": 0}

# (route, body, the pointer named, the table that must not grow)
BODIES: list[tuple[str, dict[str, Any], str, str | None]] = [
    (
        "/api/v1/audiences/estimate",
        {"rule": {"attribute": "age_band", "op": "=", "value": NUL}},
        "/rule/value",
        None,
    ),
    ("/api/v1/audiences", {"name": f"nul{NUL}name", "rule": RULE}, "/name", "audiences"),
    (
        "/api/v1/audiences",
        {"name": "nul key", "rule": {"and": [RULE, {f"tra{NUL}it": "x"}]}},
        f"/rule/and/1/tra{NUL}it",
        "audiences",
    ),
    (
        "/api/v1/profiles/lookup",
        {"id_type": "loyalty_card", "value": f"12{NUL}34"},
        "/value",
        None,
    ),
    ("/api/v1/erasures", {"customer_id": f"C{NUL}"}, "/customer_id", "erasure_tombstones"),
    ("/api/v1/partners", {"name": f"Nul{NUL}Co", "kind": "agency"}, "/name", "partners"),
    ("/api/v1/partners", {"name": "a/b~c", "kind": f"{NUL}"}, "/kind", "partners"),
]


async def _count(engine: AsyncEngine, table: str | None) -> int:
    if table is None:
        return 0
    async with engine.connect() as connection:
        # The table is one of BODIES' own names, never input.
        counted = await connection.execute(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
        return int(counted.scalar_one())


def _only_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "with Idempotency-Key"])
@pytest.mark.parametrize(("path", "body", "pointer", "table"), BODIES)
async def test_a_nul_in_a_body_is_422_and_nothing_is_stored(
    server: ServerProcess,
    admin_key: str,
    engine: AsyncEngine,
    idempotent: bool,
    path: str,
    body: dict[str, Any],
    pointer: str,
    table: str | None,
) -> None:
    headers = {"Authorization": f"Bearer {admin_key}"}
    if idempotent:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    before = await _count(engine, table)

    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        response = await http.post(path, json=body, headers=headers)

    error = _only_error(response)
    assert error == {"field": pointer, "source": "body", "message": error["message"]}
    assert "NUL" in error["message"]
    assert await _count(engine, table) == before


def test_a_nul_in_a_large_body_is_found(server: ServerProcess, admin_key: str) -> None:
    # Larger than the part of a body read before the route (request_connection.py).
    padding = " " * 100_000
    content = f'{{"rule": {{"trait": "spend_52w",{padding}"op": ">", "value": "1\\u0000"}}}}'
    response = httpx.post(
        server.base_url + "/api/v1/audiences/estimate",
        content=content.encode(),
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
        timeout=30,
    )

    assert _only_error(response)["field"] == "/rule/value"


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "a\\\\u0000b", "kind": "agency"}',  # a backslash, then "u0000": six characters
        b'{"name": "a\\\\\\\\u0000b", "kind": "agency"}',  # two backslashes, then "u0000"
    ],
)
def test_an_escaped_backslash_before_u0000_is_no_nul(
    server: ServerProcess, admin_key: str, content: bytes
) -> None:
    response = httpx.post(
        server.base_url + "/api/v1/partners",
        content=content.replace(b"a\\", f"nul-{len(content)}-a\\".encode(), 1),
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 201, response.text
    assert "\\u0000" in response.json()["name"]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/catalog/products?department=%00", "department"),
        ("/api/v1/catalog/products?category=Milk%00", "category"),
        ("/api/v1/catalog/products?brand=%00x", "brand"),
        ("/api/v1/catalog/products?cursor=%00", "cursor"),
        ("/api/v1/catalog/stores?cursor=%00", "cursor"),
        ("/api/v1/campaigns?status=%00", "status"),
    ],
)
@pytest.mark.parametrize("role", ["admin", "brand"])
def test_a_nul_in_a_query_is_422_naming_the_parameter(
    server: ServerProcess, admin_key: str, brand_key: str, role: str, path: str, parameter: str
) -> None:
    key = admin_key if role == "admin" else brand_key
    response = httpx.get(
        server.base_url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )

    error = _only_error(response)
    assert (error["field"], error["source"]) == (parameter, "query"), error
