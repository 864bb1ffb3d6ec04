"""PATCH on an audience over real HTTP: a change is a new revision (the next ETag), a
request that changes nothing is not, and an explicit null clears the price (price on
request again) but no other field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from endcap.audiences.schemas import AudiencePublic
from endcap.client import EndcapAPIError, EndcapClient
from tests.audiences.http import create

BIG = {"trait": "spend_52w", "op": ">", "value": 0}


def _patch(admin: EndcapClient, audience: AudiencePublic, body: dict[str, Any]) -> httpx.Response:
    return admin.request(
        "PATCH",
        f"/api/v1/audiences/{audience.id}",
        json=body,
        headers={"If-Match": f'"{audience.revision}"'},
    )


@pytest.mark.parametrize(
    "same",
    [
        {},
        {"description": "test"},
        {"cpm": "12.50"},
        {"cpm": 12.5},
        {"rule": BIG},
        {"currency": "SEK"},
        {"name": "<its own name>", "description": "test", "rule": BIG, "cpm": "12.5"},
    ],
    ids=["empty", "description", "cpm", "cpm as a number", "rule", "currency", "everything"],
)
def test_a_patch_that_changes_nothing_keeps_the_revision(
    admin: EndcapClient, same: dict[str, Any]
) -> None:
    audience = create(admin, rule=BIG, cpm="12.50")
    body = {k: audience.name if v == "<its own name>" else v for k, v in same.items()}

    answer = _patch(admin, audience, body)

    assert answer.status_code == 200
    assert answer.headers["etag"] == f'"{audience.revision}"'
    assert AudiencePublic.model_validate(answer.json()) == audience
    # The ETag the client holds is still the current one.
    assert _patch(admin, audience, {"description": "changed"}).status_code == 200


def test_a_patch_that_changes_something_is_the_next_revision(admin: EndcapClient) -> None:
    audience = create(admin, rule=BIG, cpm="12.50")
    answer = _patch(admin, audience, {"description": "test", "cpm": "13.00"})
    assert answer.headers["etag"] == f'"{audience.revision + 1}"'
    assert answer.json()["cpm"] == "13.00"


def test_a_null_price_goes_back_to_price_on_request(admin: EndcapClient) -> None:
    audience = create(admin, rule=BIG, cpm="12.50")

    answer = _patch(admin, audience, {"cpm": None})

    assert answer.status_code == 200
    assert answer.json()["cpm"] is None
    assert answer.headers["etag"] == f'"{audience.revision + 1}"'
    assert admin.request("GET", f"/api/v1/audiences/{audience.id}").json()["cpm"] is None


@pytest.mark.parametrize("field", ["name", "description", "rule", "currency"])
def test_null_is_refused_for_a_field_that_cannot_be_empty(admin: EndcapClient, field: str) -> None:
    audience = create(admin, rule=BIG)
    with pytest.raises(EndcapAPIError) as refused:
        _patch(admin, audience, {field: None})
    assert refused.value.status == 422
    assert f"/{field}" in {e["field"] for e in refused.value.problem["errors"]}
    current = admin.request("GET", f"/api/v1/audiences/{audience.id}")
    assert current.headers["etag"] == f'"{audience.revision}"'
