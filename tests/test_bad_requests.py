"""Bodies and ids no route can use get a problem answer naming what is wrong, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from endcap.auth.roles import Role
from tests.support.server import ServerProcess

PROBLEM = "application/problem+json"


def _send(
    server: ServerProcess, key: str, method: str, path: str, **kwargs: object
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.request(
        method,
        server.base_url + path,
        headers=headers,
        timeout=30,
        **kwargs,  # type: ignore[arg-type]
    )


def _post_raw(server: ServerProcess, key: str, path: str, content: bytes) -> httpx.Response:
    """``content`` sent as it is, labelled JSON."""
    return _send(
        server, key, "POST", path, content=content, headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "with Idempotency-Key"])
@pytest.mark.parametrize("depth", [1_000, 5_000])
def test_a_body_nested_too_deeply_is_422(
    server: ServerProcess, admin_key: str, depth: int, idempotent: bool
) -> None:
    body = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"  # some 2-10 KB
    headers = {"Content-Type": "application/json"}
    if idempotent:
        headers["Idempotency-Key"] = f"deep-{depth}"
    for path in ("/api/v1/partners", "/api/v1/keys"):
        response = _send(server, admin_key, "POST", path, content=body, headers=headers)

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/profiles/{id}",
        "/api/v1/profiles/{id}/consents",
        "/api/v1/traits/profiles/{id}",
        "/api/v1/traits/profiles/{id}/spend",
    ],
)
@pytest.mark.parametrize("profile_id", [2**63, 10**23, 0])
def test_a_profile_id_no_row_can_have_is_404(
    server: ServerProcess, admin_key: str, path: str, profile_id: int
) -> None:
    response = _send(server, admin_key, "GET", path.format(id=profile_id))

    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert str(profile_id) in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/partners", "/api/v1/keys"])
def test_an_empty_body_is_named_as_missing(
    server: ServerProcess, admin_key: str, path: str
) -> None:
    response = _post_raw(server, admin_key, path, b"")

    assert response.status_code == 422, response.text
    problem = response.json()
    assert "body" in problem["detail"]
    assert all("'data'" not in e["message"] for e in problem["errors"]), problem["errors"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"", "application/json"), (b'{"stores": []}', "application/json"), (b"", None)],
)
def test_an_upload_without_a_file_says_how_to_send_one(
    server: ServerProcess, admin_key: str, content: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = _send(
        server, admin_key, "POST", "/api/v1/ingest/stores", content=content, headers=headers
    )

    assert response.status_code == 422, response.text
    assert "multipart/form-data" in response.json()["detail"], response.text
    assert "'data'" in response.json()["detail"], response.text


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ([("data", ("a.csv", b"store_id\nS75\n")), ("data", ("b.csv", b"store_id\nS76\n"))], "2"),
        ([("data", ("a.csv", b"store_id\nS75\n")), ("b", ("b.csv", b"store_id\nS76\n"))], "b"),
        ([("a", ("a.csv", b"store_id\nS75\n"))], "'data'"),
    ],
    ids=["two files in data", "a second field", "the wrong field"],
)
def test_an_upload_is_one_file_in_data_and_nothing_else(
    server: ServerProcess, admin_key: str, files: list[Any], said: str
) -> None:
    response = httpx.post(
        f"{server.base_url}/api/v1/ingest/stores",
        files=files,
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=30,
    )

    assert response.status_code == 422, response.text
    assert said in response.json()["detail"], response.text


@pytest.mark.parametrize("exact", ["yes", 1, "true"])
def test_an_estimate_flag_must_be_a_json_boolean(
    server: ServerProcess, admin_key: str, exact: object
) -> None:
    rule = {"trait": "baskets_52w", "op": ">=", "value": 1}
    response = _send(
        server, admin_key, "POST", "/api/v1/audiences/estimate", json={"rule": rule, "exact": exact}
    )

    assert response.status_code == 422, response.text
    assert any(e["field"] == "/exact" for e in response.json()["errors"]), response.text


@pytest.mark.parametrize("content", [b'{"name": "ab\xff"}', b"\xff\xfe{}", b'{"name": "\xc3"}'])
def test_a_body_that_is_not_utf8_is_422(
    server: ServerProcess, admin_key: str, content: bytes
) -> None:
    response = _post_raw(server, admin_key, "/api/v1/partners", content)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "UTF-8" in response.json()["detail"] or "JSON" in response.json()["detail"]


@pytest.mark.parametrize("content", [b"", b"{}"])
def test_an_unknown_campaign_action_is_named_whatever_the_body(
    server: ServerProcess, admin_key: str, content: bytes
) -> None:
    path = f"/api/v1/campaigns/{uuid.uuid4()}/actions/submit"
    response = _post_raw(server, admin_key, path, content)

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["action"], response.text
    assert "approve" in response.json()["errors"][0]["message"], response.text


def test_a_blank_body_is_not_valid_json(server: ServerProcess, admin_key: str) -> None:
    response = _post_raw(server, admin_key, "/api/v1/partners", b"   ")

    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "the request body is not valid JSON", response.text


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "application/json"}])
def test_an_action_needs_no_body(
    server: ServerProcess, admin_key: str, headers: dict[str, str]
) -> None:
    response = _send(
        server,
        admin_key,
        "POST",
        f"/api/v1/campaigns/{uuid.uuid4()}/actions/approve",
        content=b"",
        headers=headers,
    )

    assert response.status_code == 404, response.text  # the campaign, not the body


@pytest.mark.parametrize(
    "seed",
    [{"customer_ids": list(range(20_000))}, {"email_sha256": [None] * 20_000}],
    ids=["numbers for ids", "nulls for hashes"],
)
def test_thousands_of_bad_values_get_a_short_answer_that_counts_them(
    server: ServerProcess, admin_key: str, seed: dict[str, list[Any]]
) -> None:
    body = {"name": "seed of 20,000 bad values", "lookalike": {"seed": seed, "reach": 5_000}}
    response = _send(server, admin_key, "POST", "/api/v1/audiences", json=body)

    assert response.status_code == 422, response.text[:500]
    problem = response.json()
    assert len(response.content) < 20_000  # 2.8 MB before
    assert len(problem["errors"]) == 50
    assert problem["errors_total"] == 20_000
    assert len(problem["detail"]) < 200, problem["detail"]
    assert problem["detail"].endswith("and 19997 more"), problem["detail"]


def test_a_few_bad_values_are_all_named_by_pointer_and_not_counted_again(
    server: ServerProcess, admin_key: str
) -> None:
    body = {"name": "seed of 2 bad values", "lookalike": {"seed": {"customer_ids": [1, 2]}}}
    response = _send(server, admin_key, "POST", "/api/v1/audiences", json=body)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == [
        "/lookalike/seed/customer_ids/0",
        "/lookalike/seed/customer_ids/1",
        "/lookalike/reach",
    ]
    assert "errors_total" not in problem
    assert all(e["field"] in problem["detail"] for e in problem["errors"]), problem
    assert "more" not in problem["detail"]


@pytest.mark.parametrize(
    ("content", "pointer"),
    [
        (b'{"rule": {"trait": "spend_52w", "op": ">", "value": 1e400}}', "/rule/value"),
        (
            b'{"rule": {"and": [{"trait": "spend_52w", "op": ">", "value": -1e999}]}}',
            "/rule/and/0/value",
        ),
        (
            b'{"rule": {"trait": "spend_52w", "op": ">", "value": 1' + b"0" * 5_000 + b"}}",
            "/rule/value",
        ),
        (b'{"rule": {"trait": "a/b~c", "op": ">", "a/b~c": 1e400}}', "/rule/a~1b~0c"),
        (b"[1e400]", "/0"),
        # Broken further on too: named from the path msgspec gives.
        (b"[0, 1e400, ]", "/1"),
    ],
    ids=["a float", "in a list", "5,000 digits", "an escaped name", "at the top", "then broken"],
)
def test_a_number_too_large_to_read_is_named_by_its_pointer(
    server: ServerProcess, admin_key: str, content: bytes, pointer: str
) -> None:
    response = _post_raw(server, admin_key, "/api/v1/audiences/estimate", content)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == [pointer], problem
    assert "too large" in problem["errors"][0]["message"], problem
    assert "`$" not in problem["detail"], problem  # msgspec's own notation


def test_a_member_name_is_escaped_in_its_pointer(server: ServerProcess, admin_key: str) -> None:
    body = {"name": "Escaped Co", "kind": "agency", "a/b~c": 1}
    response = _send(server, admin_key, "POST", "/api/v1/partners", json=body)

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["/a~1b~0c"], response.text


CAMPAIGN_TWICE = (
    b'{"name": "Twice", "audience_id": "6f1c7a0e-3f1e-4c55-9b65-1d9c5b1b2a11",'
    b' "skus": ["SKU1"], "channels": ["email"], "starts_on": "2030-01-07",'
    b' "ends_on": "2030-01-20", "budget": "5000.00", "currency": "SEK",'
    b' "creative": {"headline": "Hi", "landing_url": "https://example.com/"}, "budget": "1.00"}'
)


@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "with Idempotency-Key"])
@pytest.mark.parametrize(
    ("role", "path", "content", "pointers"),
    [
        (Role.BRAND, "/api/v1/campaigns", CAMPAIGN_TWICE, ["/budget"]),
        (
            Role.RETAILER_ADMIN,
            "/api/v1/audiences/estimate",
            b'{"rule": {"trait": "spend_52w", "op": ">", "value": 0, "value" : 9}}',
            ["/rule/value"],
        ),
        (
            Role.RETAILER_ADMIN,
            "/api/v1/audiences/estimate",
            b'{"rule": {"and": [{"trait": "spend_52w", "op": ">", "value": 0},'
            b' {"a/b": 1, "trait": "spend_52w", "op": ">", "a/b"\n: 2, "value": 0, "op": "<"}]}}',
            ["/rule/and/1/a~1b", "/rule/and/1/op"],
        ),
    ],
    ids=["campaign budget", "nested", "twice in a list item, escaped"],
)
def test_a_member_given_twice_is_422_naming_it(
    server: ServerProcess,
    keys_by_role: dict[Role, str],
    role: Role,
    path: str,
    content: bytes,
    pointers: list[str],
    idempotent: bool,
) -> None:
    headers = {"Content-Type": "application/json"}
    if idempotent:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    response = _send(server, keys_by_role[role], "POST", path, content=content, headers=headers)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == pointers, errors
    assert all("more than once" in e["message"] for e in errors), errors


def test_a_partner_with_its_name_given_twice_is_not_created(
    server: ServerProcess, admin_key: str
) -> None:
    first, last = f"First {uuid.uuid4().hex[:8]}", f"Last {uuid.uuid4().hex[:8]}"
    content = f'{{"name": "{first}", "kind": "agency", "name": "{last}"}}'.encode()
    response = _post_raw(server, admin_key, "/api/v1/partners", content)

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["/name"]
    listed = _send(server, admin_key, "GET", "/api/v1/partners", params={"limit": 500}).json()
    assert not {first, last} & {p["name"] for p in listed["items"]}


def test_the_same_names_in_other_objects_and_colons_in_values_are_fine(
    server: ServerProcess, admin_key: str
) -> None:
    rule = {"trait": "spend_52w", "op": ">", "value": 0}
    estimate = _send(
        server,
        admin_key,
        "POST",
        "/api/v1/audiences/estimate",
        json={"rule": {"and": [rule, rule]}},
    )
    assert estimate.status_code == 200, estimate.text

    # A string holding '" :' and times: counted as possible member names, then read again.
    name = f'Quote " : Co {uuid.uuid4().hex[:8]} at 10:00'
    created = _send(
        server, admin_key, "POST", "/api/v1/partners", json={"name": name, "kind": "agency"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == name


@pytest.mark.parametrize(
    "query",
    ["limit=1&limit=2", "level=brand&level=category", "cursor=a&limit=5&cursor=b", "x=&x="],
)
def test_a_query_parameter_given_twice_is_422(
    server: ServerProcess, admin_key: str, query: str
) -> None:
    """Litestar kept the last of a repeated parameter: ?limit=1&limit=2 answered two."""
    response = _send(server, admin_key, "GET", f"/api/v1/catalog/products?{query}")
    name = query.split("=", maxsplit=1)[0]

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"] == [
        {"field": name, "source": "query", "message": "given more than once"}
    ]


def test_distinct_query_parameters_still_work(server: ServerProcess, admin_key: str) -> None:
    for path in ("/api/v1/jobs?limit=2&kind=load", "/api/v1/audiences?status=draft&limit=2"):
        response = _send(server, admin_key, "GET", path)
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) <= 2


def test_a_very_long_unknown_path_is_not_echoed_whole(
    server: ServerProcess, admin_key: str
) -> None:
    response = _send(server, admin_key, "GET", "/api/v1/" + "x" * 10_000)

    assert response.status_code == 404, response.text[:300]
    problem = response.json()
    assert len(response.content) < 1_000
    assert problem["detail"].startswith("no route GET /api/v1/xxx")
    assert problem["detail"].endswith("...")
    assert len(problem["instance"]) <= 203


@pytest.mark.parametrize(
    "path", ["/health/live", "/api/v1/audiences", "/api/v1/catalog/products?limit=2"]
)
def test_head_answers_as_get_without_a_body(
    server: ServerProcess, admin_key: str, path: str
) -> None:
    got = _send(server, admin_key, "GET", path)
    head = _send(server, admin_key, "HEAD", path)

    assert (got.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["content-type"] == got.headers["content-type"]


def test_head_is_refused_like_get_and_allow_names_it(server: ServerProcess, admin_key: str) -> None:
    unknown = _send(server, admin_key, "HEAD", f"/api/v1/audiences/{uuid.uuid4()}")
    anonymous = httpx.head(server.base_url + "/api/v1/audiences", timeout=30)
    wrong_method = _send(server, admin_key, "PUT", "/api/v1/audiences")
    options = _send(server, admin_key, "OPTIONS", "/api/v1/audiences")

    assert (unknown.status_code, anonymous.status_code) == (404, 401)
    assert wrong_method.status_code == 405
    assert "HEAD" in wrong_method.headers["allow"].split(", ")
    assert "HEAD" in options.headers["allow"].split(", ")


@pytest.mark.parametrize(
    ("when", "said"),
    [
        ("0001-01-01T00:00:00+14:00", "out of range"),
        ("0001-01-01T00:30:00+01:00", "out of range"),
        ("1850-01-01T00:00:00Z", "out of range"),
        ("9999-12-31T23:59:59-12:00", "in the future"),
    ],
)
def test_a_decision_time_outside_the_calendar_is_422_not_500(
    server: ServerProcess, admin_key: str, when: str, said: str
) -> None:
    """An offset carried these out of the calendar in UTC: the API answered 500."""
    body = {"customer_id": "C1", "purpose": "email", "status": "granted", "recorded_at": when}
    response = _send(server, admin_key, "POST", "/api/v1/consents", json=body)

    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["/recorded_at"]
    assert said in errors[0]["message"]


def test_an_endpoint_url_longer_than_its_column_is_422(
    server: ServerProcess, admin_key: str
) -> None:
    body = {
        "cpm": "15.00",
        "currency": "SEK",
        "weekly_capacity": 100_000,
        "max_per_profile_week": 1,
        "endpoint_url": "https://example.com/" + "a" * 600,
    }
    response = _send(server, admin_key, "PUT", "/api/v1/channels/coupon", json=body)

    assert response.status_code == 422, response.text  # a 500 on PostgreSQL before
    assert [e["field"] for e in response.json()["errors"]] == ["/endpoint_url"]
