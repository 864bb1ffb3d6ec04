"""API keys over real HTTP: 401s, 403s, show-once, revocation, validation errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

from endcap.auth.roles import Role
from endcap.client import EndcapAPIError, EndcapClient
from tests.support.server import ServerProcess

PROBLEM = "application/problem+json"


def test_me_says_who_the_key_speaks_for(
    admin: EndcapClient, brand: EndcapClient, brand_partner_id: uuid.UUID
) -> None:
    assert admin.me().role is Role.RETAILER_ADMIN
    me = brand.me()
    assert me.role is Role.BRAND
    assert me.partner_id == brand_partner_id


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer ek_nothere_abcdef"},
        {"X-API-Key": "not-a-key"},
    ],
)
def test_missing_or_unknown_key_is_401_problem(
    server: ServerProcess, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{server.base_url}/api/v1/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["type"] == "urn:endcap:problem:unauthenticated"
    assert body["status"] == 401


def test_created_key_works_once_shown_and_stops_when_revoked(
    admin: EndcapClient, server: ServerProcess
) -> None:
    created = admin.create_key("reporting buyer", Role.BUYER)
    assert created.key.startswith("ek_")

    with EndcapClient(server.base_url, created.key) as buyer:
        assert buyer.me().role is Role.BUYER
        listed = admin.request("GET", "/api/v1/keys", params={"role": "buyer", "limit": 500}).text
        assert created.key not in listed
        assert created.key not in admin.request("GET", f"/api/v1/keys/{created.id}").text

        revoked = admin.revoke_key(created.id)
        assert revoked.revoked_at is not None
        with pytest.raises(EndcapAPIError) as refused:
            buyer.me()
    assert refused.value.status == 401
    assert "revoked" in refused.value.detail


def test_revoking_twice_is_409_and_unknown_key_is_404(admin: EndcapClient) -> None:
    created = admin.create_key("short-lived", Role.BUYER)
    admin.revoke_key(created.id)

    with pytest.raises(EndcapAPIError) as twice:
        admin.revoke_key(created.id)
    with pytest.raises(EndcapAPIError) as unknown:
        admin.get_key(uuid.uuid4())

    assert twice.value.status == 409
    assert unknown.value.status == 404
    assert unknown.value.type == "urn:endcap:problem:not-found"


def test_brand_key_needs_a_real_partner(admin: EndcapClient) -> None:
    with pytest.raises(EndcapAPIError) as missing:
        admin.create_key("orphan brand", Role.BRAND)
    with pytest.raises(EndcapAPIError) as unknown:
        admin.create_key("ghost brand", Role.BRAND, partner_id=uuid.uuid4())

    for raised in (missing, unknown):
        assert raised.value.status == 422
        assert raised.value.problem["errors"][0]["field"] == "/partner_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": "superuser"}, "/role"),
        ({"name": 5, "role": "buyer"}, "/name"),
        ({"role": "buyer"}, "/name"),
        ({"name": "x", "role": "buyer", "partner_id": "not-a-uuid"}, "/partner_id"),
        ({"name": "x", "role": "buyer", "is_root": True}, "/is_root"),
        ({"name": "", "role": "buyer"}, "/name"),
        ({"name": "   ", "role": "buyer"}, "/name"),
        ({"name": "ops\u202e\n", "role": "buyer"}, "/name"),
        ({"name": "\u200b", "role": "buyer"}, "/name"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    admin: EndcapClient, body: dict[str, object], field: str
) -> None:
    with pytest.raises(EndcapAPIError) as raised:
        admin.request("POST", "/api/v1/keys", json=body)

    assert raised.value.status == 422
    assert raised.value.type == "urn:endcap:problem:validation-error"
    named = {e["field"] for e in raised.value.problem["errors"]}
    assert field in named, named


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"[1, 2", '{"name": "caf\xe9"}'.encode("latin-1")]
)
def test_malformed_json_is_422(admin: EndcapClient, raw: bytes) -> None:
    with pytest.raises(EndcapAPIError) as raised:
        admin.request(
            "POST", "/api/v1/keys", content=raw, headers={"Content-Type": "application/json"}
        )

    assert raised.value.status == 422
    assert raised.value.problem["errors"][0]["field"] == "body"


def test_bad_cursor_and_limit_are_422(admin: EndcapClient) -> None:
    with pytest.raises(EndcapAPIError) as cursor:
        admin.request("GET", "/api/v1/keys", params={"cursor": "garbage!"})
    with pytest.raises(EndcapAPIError) as limit:
        admin.request("GET", "/api/v1/keys", params={"limit": 100000})

    assert cursor.value.status == 422
    assert cursor.value.problem["errors"][0]["field"] == "cursor"
    assert limit.value.status == 422
    assert limit.value.problem["errors"][0]["field"] == "limit"


def test_unknown_route_is_404_problem(admin: EndcapClient, server: ServerProcess) -> None:
    for client_response in (
        httpx.get(f"{server.base_url}/api/v1/no-such-thing"),
        httpx.get(f"{server.base_url}/nothing/here", headers={"Authorization": "Bearer x"}),
    ):
        assert client_response.status_code == 404
        assert client_response.headers["content-type"].startswith(PROBLEM)
        assert client_response.json()["type"] == "urn:endcap:problem:not-found"


def test_wrong_method_is_405_problem(admin: EndcapClient) -> None:
    with pytest.raises(EndcapAPIError) as raised:
        admin.request("DELETE", "/api/v1/me")
    assert raised.value.status == 405
