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

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from tests.audiences.releases import BUYERS, K, exact_size, module_shop, published
from tests.support.retailer import SHOWN_PURPOSES, unique_postal_codes
from tests.support.stack import module_stack

stack, server, admin_key = module_stack("erased_releases")


shop = module_shop("erased-releases-shop", 3000, seed=29)


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
        if exact_size(admin, held) == len(found) + 1:  # a buyer, not merged with another code's
            found[code] = holders[code]
        if len(found) == n:
            return found
    raise AssertionError(f"only {len(found)} postal codes single out a consenting buyer")


def test_a_minus_one_of_what_erasures_left_of_a_released_audience_is_refused(
    admin: EndcapClient, shop: Path
) -> None:
    lone = _lone_buyers(admin, shop, 2 * K + 11)
    codes = list(lone)
    erased, last, others = codes[:K], codes[K], codes[K + 1 :]
    buyers = exact_size(admin, BUYERS)
    a = published(admin, BUYERS).json()
    assert (a["status"], a["in_catalog"], a["current"]["size"]) == ("published", True, buyers)

    for code in erased:
        tombstone = admin.erase(customer_id=lone[code])
        assert tombstone.customers_removed >= 1  # the whole profile: each record it joined
    assert exact_size(admin, BUYERS) == buyers - K  # A's members as they are now

    # Everyone A holds now but one shopper: k + 1 from A's released size, 1 from its members.
    minus_one = {"and": [BUYERS, {"not": {"attribute": "postal_code", "op": "=", "value": last}}]}
    with pytest.raises(EndcapAPIError) as refused:
        published(admin, minus_one)
    assert refused.value.status == 409
    assert refused.value.type == "urn:endcap:problem:audience-too-similar"
    assert a["id"] in refused.value.detail

    # k + 10 shoppers from what A holds now is far enough, in every channel's reach too
    # (some have no e-mail on file): the refusal was about the one.
    without_k = {"not": {"attribute": "postal_code", "op": "in", "value": others}}
    far = published(admin, {"and": [BUYERS, without_k]}).json()
    assert (far["status"], far["current"]["size"]) == ("published", buyers - 2 * K - 10)
