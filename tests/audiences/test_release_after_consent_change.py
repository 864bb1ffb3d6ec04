"""The difference check after consent changes: a channel's reach shown to brands counts the
members who held its consent purpose at the release, and grants since then move a released
version's consented members as they are now away from what brands saw. "A's e-mail reach
as it was shown, minus one shopper" must still be refused however many of A's members
were granted e-mail consent since, though it is then k or more from A's e-mail members as
they are now.

On a retailer of this module's own: the consent grants would change what the package's
shared retailer holds for the tests after this one.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from endcap.privacy.settings import MIN_AUDIENCE
from tests.audiences.http import create_rule, refresh
from tests.audiences.releases import BUYERS, K, exact_size, module_shop, published
from tests.support.retailer import SHOWN_PURPOSES, unique_postal_codes
from tests.support.stack import module_stack

stack, server, admin_key = module_stack("consent_drift_releases")


shop = module_shop("consent-drift-shop", 4000, seed=31)


def _without(codes: Collection[str]) -> dict[str, Any]:
    """The buyers but those of ``codes``."""
    return {"and": [BUYERS, {"not": {"attribute": "postal_code", "op": "in", "value": [*codes]}}]}


def _lone_buyers(
    admin: EndcapClient,
    folder: Path,
    n: int,
    *,
    granted: Collection[str] = (),
    withheld: Collection[str] = (),
    taken: Collection[str] = (),
) -> dict[str, str]:
    """``n`` postal codes, each held by exactly one buyer whose profile holds ``granted``
    and none of ``withheld``, and that buyer's customer id. Each is a buyer of its own,
    merged neither with another code's found here nor with one of ``taken``."""
    holders: dict[str, str] = {}
    with (folder / "customers.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            holders[row["postal_code"]] = row["customer_id"]
    handles: dict[str, tuple[str, str]] = {}
    with (folder / "identifiers.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            handles.setdefault(row["customer_id"], (row["id_type"], row["id_value"]))
    found: dict[str, str] = {}
    # The customer record's own consent first (the file), then its profile's: a record
    # merged with another one holds that one's grants too.
    for code in unique_postal_codes(folder, granted=granted, withheld=withheld):
        customer = holders[code]
        if code in taken or customer not in handles:
            continue
        held = _purposes_held(admin, customer, handles[customer])
        if not set(granted) <= held or held & set(withheld):
            continue
        codes = [*taken, *found, code]
        rule = {"and": [BUYERS, {"attribute": "postal_code", "op": "in", "value": codes}]}
        if exact_size(admin, rule) == len(codes):  # a buyer, not merged with another code's
            found[code] = customer
        if len(found) == n:
            return found
    raise AssertionError(f"only {len(found)} postal codes single out such a buyer")


def _purposes_held(admin: EndcapClient, customer: str, handle: tuple[str, str]) -> set[str]:
    """The consent purposes the profile of ``customer`` (found by one of its identifiers,
    ``handle``) holds now."""
    for profile in admin.lookup(*handle).profiles:
        if any(record.customer_id == customer for record in profile.customers):
            state = admin.consents(profile.profile_id)
            return {p.purpose.value for p in state.purposes if p.granted}
    raise AssertionError(f"no profile holds customer {customer} ({handle[0]} {handle[1]})")


def test_a_minus_one_of_the_email_reach_shown_is_refused_after_grants(
    admin: EndcapClient, shop: Path
) -> None:
    # k + 10 of A's members holding no shown purpose at A's release, e-mail granted after
    # it; and x, holding e-mail consent but no other shown purpose, so that taking x out
    # moves A's e-mail members alone (the other purposes' check would refuse it anyway).
    granting = _lone_buyers(admin, shop, K + 10, withheld=SHOWN_PURPOSES)
    others = [p for p in SHOWN_PURPOSES if p != "email"]
    x = next(iter(_lone_buyers(admin, shop, 1, granted=["email"], withheld=others, taken=granting)))
    buyers = exact_size(admin, BUYERS)
    a = published(admin, BUYERS).json()
    assert (a["status"], a["in_catalog"], a["current"]["size"]) == ("published", True, buyers)
    shown = a["current"]["reach"]
    # Brands were shown A's e-mail reach, and will be B's (R - 1): below the minimum a
    # channel is not shown, and not compared.
    assert shown["email"] > MIN_AUDIENCE

    for customer in granting.values():
        event = admin.record_consent(customer, "email", "granted")
        assert (event.customer_id, event.status) == (customer, "granted")
    # A's members as they are now, on a draft (never shown, so never compared): the same
    # shoppers, k + 10 more of them with e-mail consent, every other reach as it was.
    now = refresh(admin, create_rule(admin, BUYERS).id).current
    assert now is not None
    assert (now.size, now.reach) == (buyers, {**shown, "email": shown["email"] + K + 10})

    # B: A but the k + 10 granted and x. Its members are k + 11 from A's; its e-mail
    # members are A's as brands were shown them but x (R - 1), and k + 11 from A's as they
    # are now; its other purposes' members are A's exactly (the k + 11 hold none of them).
    b = refresh(admin, create_rule(admin, _without([*granting, x])).id)
    assert b.current is not None
    expected = {**shown, "email": shown["email"] - 1}
    assert (b.current.size, b.current.reach) == (buyers - K - 11, expected)
    with pytest.raises(EndcapAPIError) as refused:
        admin.request("POST", f"/api/v1/audiences/{b.id}/publish")
    assert refused.value.status == 409
    assert refused.value.type == "urn:endcap:problem:audience-too-similar"
    assert a["id"] in refused.value.detail
    assert "with email consent" in refused.value.detail  # its e-mail reach, not its members

    # The same audience keeping x publishes: its e-mail members are those brands were
    # shown of A, no one apart, and its members k + 10 from A's. The refusal was about x.
    kept = published(admin, _without(granting)).json()
    assert (kept["status"], kept["current"]["size"]) == ("published", buyers - K - 10)
    assert kept["current"]["reach"] == shown
