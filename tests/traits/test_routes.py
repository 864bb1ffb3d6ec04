"""Traits over real HTTP: a refresh runs as a job; a profile's traits are admin-only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from endcap.jobs.schemas import JobPublic


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def test_refresh_job_then_read_a_profiles_traits(admin: EndcapClient, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    # Dated a minute ahead (within the clock leeway; later is refused) so that this
    # shopper's last basket is the refresh's as_of, whatever else the shared test database
    # holds.
    last = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    first = last - timedelta(days=7)
    files = {
        "products": _write(
            tmp_path,
            "products.csv",
            f"sku,name,brand,manufacturer,category\n{tag}-1,Tea,Teaco,Tea Co {tag},Tea\n",
        ),
        "customers": _write(tmp_path, "customers.csv", f"customer_id\n{tag}-c\n"),
        "identifiers": _write(
            tmp_path,
            "identifiers.csv",
            f"customer_id,id_type,id_value\n{tag}-c,loyalty_card,L{tag}\n",
        ),
        "transactions": _write(
            tmp_path,
            "transactions.csv",
            "transaction_id,occurred_at,sku,quantity,sales_value,customer_id,channel\n"
            f"{tag}-t1,{first.isoformat()},{tag}-1,1,12.50,{tag}-c,online\n"
            f"{tag}-t2,{last.isoformat()},{tag}-1,2,25.00,{tag}-c,store\n",
        ),
    }
    for entity, path in files.items():
        assert admin.wait(admin.upload(entity, path).id).status == "succeeded"

    job = JobPublic.model_validate(admin.request("POST", "/api/v1/traits/refresh").json())
    done = admin.wait(job.id, timeout=300)

    assert done.status == "succeeded", done.error
    assert done.result is not None
    assert datetime.fromisoformat(done.result["report"]["as_of"]) == last
    profile_id = admin.lookup("loyalty_card", f"L{tag}").profiles[0].profile_id
    traits = admin.request("GET", f"/api/v1/traits/profiles/{profile_id}").json()
    assert traits["baskets_52w"] == 2
    assert Decimal(traits["spend_52w"]) == Decimal("37.50")
    assert traits["online_share"] == pytest.approx(12.5 / 37.5)
    assert datetime.fromisoformat(traits["last_purchase_at"]) == last


def test_unknown_profile_traits_are_404_and_brands_are_refused(
    admin: EndcapClient, brand: EndcapClient
) -> None:
    with pytest.raises(EndcapAPIError) as missing:
        admin.request("GET", "/api/v1/traits/profiles/987654321")
    with pytest.raises(EndcapAPIError) as refused:
        brand.request("GET", "/api/v1/traits/profiles/1")
    assert missing.value.status == 404
    assert refused.value.status == 403


def test_a_refresh_may_ask_for_k_to_be_chosen_again(admin: EndcapClient) -> None:
    with pytest.raises(EndcapAPIError) as bad:
        admin.request("POST", "/api/v1/traits/refresh", params={"choose_k": "maybe"})
    assert bad.value.status == 422

    response = admin.request("POST", "/api/v1/traits/refresh", params={"choose_k": "true"})
    done = admin.wait(JobPublic.model_validate(response.json()).id, timeout=300)

    assert done.status == "succeeded", done.error
    assert done.result is not None
    clusters = done.result["report"]["clusters"]
    # The shared database may hold too few shoppers to cluster; when it does not, k was
    # chosen again (by silhouette), as asked.
    assert clusters is None or clusters["k_choice"].startswith("chosen")
