"""Propensity and lookalike audiences over real HTTP, on the shared synthetic retailer:
trained and checked on real purchase history, cut as asked, refused with a pointer
when the request is wrong or touches a sensitive category, and shown to brands only
as rounded catalog entries."""

from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from endcap.client import EndcapAPIError, EndcapClient
from endcap.privacy.settings import SENSITIVE_DEPARTMENTS
from tests.audiences.conftest import PROFILES
from tests.audiences.http import CATALOG_KEYS, create, refresh


def _propensity(target: dict[str, Any], weeks: int = 4, **select: float) -> dict[str, Any]:
    return {"target": target, "horizon_weeks": weeks, "select": select or {"top_share": 0.2}}


def _refused(admin: EndcapClient, body: dict[str, Any]) -> EndcapAPIError:
    with pytest.raises(EndcapAPIError) as refused:
        create(admin, **body)
    return refused.value


def _fields(error: EndcapAPIError) -> list[str]:
    return [e["field"] for e in error.problem.get("errors", [])]


def _sensitive_categories(folder: Path) -> set[str]:
    with (folder / "products.csv").open(encoding="utf-8") as handle:
        return {
            r["category"]
            for r in csv.DictReader(handle)
            if r["department"] in SENSITIVE_DEPARTMENTS
        }


def _feature_categories(report: dict[str, Any]) -> set[str]:
    return {name.split(":", 1)[1] for name in report["features"] if ":" in name}


def test_propensity_is_trained_on_the_past_and_checked_on_a_later_period(
    admin: EndcapClient, retailer: dict[str, Any]
) -> None:
    spec = _propensity({"level": "department", "name": "Frozen"}, top_share=0.2)
    created = create(admin, propensity=spec)
    assert created.kind == "propensity"
    assert created.rule is None
    assert created.spec is not None
    assert created.spec["target"]["name"] == "Frozen"
    assert created.current is None

    audience = refresh(admin, created.id)

    assert audience.current is not None
    assert audience.current.report is not None
    report = audience.current.report
    # Real signal on a period the model never saw: past Frozen buyers buy Frozen again.
    assert 0.6 < report["auc"] <= 1.0
    assert report["checking"]["buyers"] >= 20
    assert report["checking"]["profiles"] - report["checking"]["buyers"] >= 20
    assert report["training_cutoff"] < report["checking_cutoff"] < report["as_of"]
    # Calibration: scores rise bin by bin, and each bin's observed buy rate is near its score.
    bins = report["calibration"]
    assert len(bins) >= 5
    predicted = [b["mean_predicted"] for b in bins]
    assert predicted == sorted(predicted)
    assert bins[-1]["observed"] > bins[0]["observed"]
    assert max(abs(b["observed"] - b["mean_predicted"]) for b in bins) < 0.25
    assert 0 < report["brier"] < report["base_rate"]  # better than knowing nothing... roughly
    # The cut: the top fifth of everyone scored, exactly.
    assert audience.current.size == math.ceil(0.2 * report["scored_profiles"])
    assert report["selected"] == audience.current.size
    assert 0 < report["scored_profiles"] <= PROFILES
    # The model never saw a sensitive category's spend.
    assert not _feature_categories(report) & _sensitive_categories(retailer["folder"])
    assert audience.current.reach["email"] <= audience.current.size


def test_a_score_cut_keeps_only_shoppers_at_or_above_it(
    admin: EndcapClient, retailer: dict[str, Any]
) -> None:
    spec = _propensity({"level": "category", "name": "Coffee & Tea"}, weeks=8, min_score=0.3)
    audience = refresh(admin, create(admin, propensity=spec).id)

    assert audience.current is not None
    assert audience.current.report is not None
    report = audience.current.report
    assert report["selected"] == audience.current.size
    if report["selected"]:
        assert report["score_cut"] >= 0.3
    assert audience.current.size < report["scored_profiles"]


@pytest.mark.parametrize(
    ("propensity", "field", "words"),
    [
        (
            _propensity({"level": "category", "name": "Cofee & Tea"}),
            "/propensity/target/name",
            "Coffee",
        ),
        (
            _propensity({"level": "department", "name": "Baby"}),
            "/propensity/target/name",
            "sensitive",
        ),
        (
            _propensity({"level": "department", "name": "Frozen"}, weeks=26),
            "/propensity/horizon_weeks",
            "needs 56 weeks",
        ),
    ],
)
def test_bad_propensity_requests_are_422_with_a_pointer(
    admin: EndcapClient,
    retailer: dict[str, Any],
    propensity: dict[str, Any],
    field: str,
    words: str,
) -> None:
    error = _refused(admin, {"propensity": propensity})
    assert error.status == 422
    assert field in _fields(error)
    assert words in error.problem["detail"] + str(error.problem.get("errors"))


@pytest.mark.parametrize(
    "body",
    [
        {
            "propensity": _propensity(
                {"level": "department", "name": "Frozen"}, top_share=0.1, min_score=0.5
            )
        },
        {"propensity": _propensity({"level": "aisle", "name": "Frozen"})},
        {
            "propensity": {
                **_propensity({"level": "department", "name": "Frozen"}),
                "horizon_weeks": "four",
            }
        },
        {
            "rule": {"trait": "spend_52w", "op": ">", "value": 0},
            "propensity": _propensity({"level": "department", "name": "Frozen"}),
        },
        {},
    ],
)
def test_malformed_model_requests_are_422(
    admin: EndcapClient, retailer: dict[str, Any], body: dict[str, Any]
) -> None:
    assert _refused(admin, body).status == 422


# -- lookalikes ---------------------------------------------------------------------


def _customers_by_department_share(folder: Path, department: str) -> list[str]:
    """Customer ids, the largest share of spend in ``department`` first."""
    with (folder / "products.csv").open(encoding="utf-8") as handle:
        in_department = {r["sku"] for r in csv.DictReader(handle) if r["department"] == department}
    spend: dict[str, float] = defaultdict(float)
    there: dict[str, float] = defaultdict(float)
    with (folder / "transactions.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["customer_id"]:
                value = float(row["sales_value"])
                spend[row["customer_id"]] += value
                if row["sku"] in in_department:
                    there[row["customer_id"]] += value
    buyers = [c for c in spend if spend[c] > 100]
    return sorted(buyers, key=lambda c: (-there[c] / spend[c], c))


def _emails(folder: Path, customers: set[str]) -> list[str]:
    """SHA-256 of the normalised e-mails of ``customers``, as a survey vendor would send them."""
    with (folder / "identifiers.csv").open(encoding="utf-8") as handle:
        return sorted(
            hashlib.sha256(r["id_value"].strip().lower().encode()).hexdigest()
            for r in csv.DictReader(handle)
            if r["id_type"] == "email" and r["customer_id"] in customers
        )


def test_lookalike_expands_a_seed_to_the_reach_and_finds_held_out_seed_members(
    admin: EndcapClient, brand: EndcapClient, retailer: dict[str, Any]
) -> None:
    ranked = _customers_by_department_share(retailer["folder"], "Frozen")
    seed = ranked[:300] + [f"NOT-A-CUSTOMER-{n}" for n in range(60)]
    spec = {"seed": {"customer_ids": seed}, "reach": 2000}
    created = create(admin, lookalike=spec)

    assert created.kind == "lookalike"
    assert created.spec is not None
    match = created.spec["seed"]
    assert (match["submitted"], match["distinct"], match["matched"]) == (360, 360, 300)
    assert match["match_rate"] == round(300 / 360, 4)
    assert 250 <= match["profiles"] <= 300  # key chains may join two records into one shopper
    assert not any(c in str(created.spec) for c in seed)  # the submitted ids are not kept

    audience = refresh(admin, created.id)

    assert audience.current is not None
    assert audience.current.report is not None
    report = audience.current.report
    assert audience.current.size == 2000 == report["reach"]
    assert report["seed_profiles"] == match["profiles"]
    curve = report["curve"]
    assert [p["reach"] for p in curve] == sorted(p["reach"] for p in curve)
    similarity = [p["mean_similarity"] for p in curve]
    assert similarity == sorted(similarity, reverse=True)
    # Held-out seed members rank inside the expansion far more often than chance would put them.
    base = report["scored_profiles"] - report["seed_with_history"]
    for point in curve:
        chance = (point["reach"] - match["profiles"]) / base
        assert point["holdout_recall"] > min(1.5 * chance, 0.9), point
    assert not _feature_categories(report) & _sensitive_categories(retailer["folder"])

    # Published, a brand sees a rounded catalog entry: no seed, no model report, no members.
    admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
    entry = brand.request("GET", f"/api/v1/catalog/audiences/{audience.id}").json()
    assert set(entry) == CATALOG_KEYS
    assert entry["size"] % 100 == 0
    # The size counts the members who consented to some channel, not all 2000.
    current = admin.audience(audience.id).current
    assert current is not None
    assert current.size == 2000
    assert current.consented_size is not None
    assert abs(entry["size"] - current.consented_size) <= 50


def test_a_seed_of_hashed_emails_matches_through_the_key_chains(
    admin: EndcapClient, retailer: dict[str, Any]
) -> None:
    customers = set(_customers_by_department_share(retailer["folder"], "Bakery")[:200])
    hashes = _emails(retailer["folder"], customers)
    assert len(hashes) >= 150

    created = create(
        admin, lookalike={"seed": {"email_sha256": [h.upper() for h in hashes]}, "reach": 800}
    )

    assert created.spec is not None
    match = created.spec["seed"]
    assert match["kind"] == "email_sha256"
    assert match["distinct"] == len(set(hashes))
    assert match["match_rate"] >= 0.95  # only e-mails flagged as shared fail to match
    audience = refresh(admin, created.id)
    assert audience.current is not None
    assert audience.current.size == 800


def test_bad_seeds_are_refused_with_a_pointer(
    admin: EndcapClient, retailer: dict[str, Any]
) -> None:
    ranked = _customers_by_department_share(retailer["folder"], "Frozen")

    too_small = _refused(
        admin, {"lookalike": {"seed": {"customer_ids": ranked[:40]}, "reach": 500}}
    )
    assert too_small.status == 422
    assert "/lookalike/seed" in _fields(too_small)
    assert "at least 100" in too_small.problem["detail"]

    strangers = [f"SOMEONE-ELSE-{n}" for n in range(400)] + ranked[:20]
    barely = _refused(admin, {"lookalike": {"seed": {"customer_ids": strangers}, "reach": 500}})
    assert barely.status == 422
    assert "/lookalike/seed" in _fields(barely)
    assert "matches almost nothing" in barely.problem["detail"]
    assert barely.problem["match"]["matched"] == 20

    not_hashes = ["a" * 64] * 150 + ["not-a-hash"]
    malformed = _refused(admin, {"lookalike": {"seed": {"email_sha256": not_hashes}, "reach": 500}})
    assert malformed.status == 422
    assert _fields(malformed) == ["/lookalike/seed/email_sha256/150"]

    below_seed = _refused(
        admin, {"lookalike": {"seed": {"customer_ids": ranked[:300]}, "reach": 10}}
    )
    assert below_seed.status == 422
    assert "/lookalike/reach" in _fields(below_seed)


def test_lookalike_features_refuse_sensitive_and_unknown_names(
    admin: EndcapClient, retailer: dict[str, Any]
) -> None:
    seed = {"customer_ids": _customers_by_department_share(retailer["folder"], "Frozen")[:300]}
    features = [
        {"level": "department", "name": "Frozen"},
        {"level": "department", "name": "pharmacy"},
    ]

    sensitive = _refused(admin, {"lookalike": {"seed": seed, "reach": 900, "features": features}})
    assert sensitive.status == 422
    assert sensitive.problem["type"].endswith("sensitive-category")
    assert "Pharmacy" in sensitive.problem["detail"]
    assert _fields(sensitive) == ["/lookalike/features/1/name"]

    unknown = _refused(
        admin,
        {
            "lookalike": {
                "seed": seed,
                "reach": 900,
                "features": [{"level": "category", "name": "Cofee & Tea"}],
            }
        },
    )
    assert unknown.status == 422
    assert _fields(unknown) == ["/lookalike/features/0/name"]
    assert "Coffee" in unknown.problem["detail"]

    chosen = [
        {"level": "department", "name": "Frozen"},
        {"level": "category", "name": "Coffee & Tea"},
    ]
    audience = refresh(
        admin, create(admin, lookalike={"seed": seed, "reach": 900, "features": chosen}).id
    )
    assert audience.current is not None
    assert audience.current.report is not None
    names = audience.current.report["features"]
    assert "department:Frozen" in names
    assert "category:Coffee & Tea" in names
    assert len([n for n in names if ":" in n]) == 2


def test_a_model_audience_has_no_rule_to_change(
    admin: EndcapClient, retailer: dict[str, Any]
) -> None:
    created = create(admin, propensity=_propensity({"level": "department", "name": "Frozen"}))
    response = admin.request("GET", f"/api/v1/audiences/{created.id}")
    with pytest.raises(EndcapAPIError) as refused:
        admin.request(
            "PATCH",
            f"/api/v1/audiences/{created.id}",
            json={"rule": {"trait": "spend_52w", "op": ">", "value": 0}},
            headers={"If-Match": response.headers["ETag"]},
        )
    assert refused.value.status == 422
    assert "no rule" in refused.value.problem["detail"]
