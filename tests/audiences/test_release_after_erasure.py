"""The difference check after erasures: a released version's members shrink as shoppers
are erased, while the size it was released with stays (a brand-facing number must not
move at an erasure). "A as it is now, minus one shopper" must still be refused once k or
more of A's members are gone, though its size is then k or more from A's released size.

On a retailer of this module's own: the erasures would change what the package's shared
retailer holds for the tests after this one.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from tests.audiences.http import create_rule, refresh
from tests.support.retailer import SHOWN_PURPOSES, unique_postal_codes
from tests.support.server import ServerProcess
from tests.support.stack import module_stack
from tests.support.synthetic_shop import load_over_http

BUYERS = {"trait": "baskets_52w", "op": ">=", "value": 1}
K = 50  # the server's k (ENDCAP_PRIVACY_K_THRESHOLD default)


stack, server, admin_key = module_stack("erased_releases")


@pytest.fixture(scope="module")
def shop(server: ServerProcess, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("erased-releases-shop")
    with EndcapClient(server.base_url, admin_key, timeout=120) as admin:
        load_over_http(admin, folder, 3000, seed=29)
    return folder


def _size(admin: EndcapClient, rule: dict[str, Any]) -> int:
    answer = admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule, "exact": True})
    return int(answer.json()["size"])


def _lone_buyers(admin: EndcapClient, folder: Path, n: int) -> dict[str, str]:
    """``n`` postal codes, each held by exactly one buyer holding every shown purpose, and
    that buyer's customer id: erasing one takes one member out of every channel's reach."""
    holders: dict[str, str] = {}
    with (folder / "customers.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            holders[row["postal_code"]] = row["customer_id"]
    found: dict[str, str] = {}
    for code in unique_postal_codes(folder, granted=SHOWN_PURPOSES):
        held = {"and": [BUYERS, {"attribute": "postal_code", "op": "in", "value": [*found, code]}]}
        if _size(admin, held) == len(found) + 1:  # a buyer, not merged with another code's
            found[code] = holders[code]
        if len(found) == n:
            return found
    raise AssertionError(f"only {len(found)} postal codes single out a consenting buyer")


def _published(admin: EndcapClient, rule: dict[str, Any]) -> Any:
    audience = refresh(admin, create_rule(admin, rule).id)
    return admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")


def test_a_minus_one_of_what_erasures_left_of_a_released_audience_is_refused(
    admin: EndcapClient, shop: Path
) -> None:
    lone = _lone_buyers(admin, shop, 2 * K + 11)
    codes = list(lone)
    erased, last, others = codes[:K], codes[K], codes[K + 1 :]
    buyers = _size(admin, BUYERS)
    a = _published(admin, BUYERS).json()
    assert (a["status"], a["in_catalog"], a["current"]["size"]) == ("published", True, buyers)

    for code in erased:
        tombstone = admin.erase(customer_id=lone[code])
        assert tombstone.customers_removed >= 1  # the whole profile: each record it joined
    assert _size(admin, BUYERS) == buyers - K  # A's members as they are now

    # Everyone A holds now but one shopper: k + 1 from A's released size, 1 from its members.
    minus_one = {"and": [BUYERS, {"not": {"attribute": "postal_code", "op": "=", "value": last}}]}
    with pytest.raises(EndcapAPIError) as refused:
        _published(admin, minus_one)
    assert refused.value.status == 409
    assert refused.value.type == "urn:endcap:problem:audience-too-similar"
    assert a["id"] in refused.value.detail

    # k + 10 shoppers from what A holds now is far enough, in every channel's reach too
    # (some have no e-mail on file): the refusal was about the one.
    without_k = {"not": {"attribute": "postal_code", "op": "in", "value": others}}
    far = _published(admin, {"and": [BUYERS, without_k]}).json()
    assert (far["status"], far["current"]["size"]) == ("published", buyers - 2 * K - 10)
