"""The retailer's data over real HTTP: upload files as jobs, find a shopper by any
identifier, record consent, erase them, and see them gone from every table and total."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from endcap.client import EndcapAPIError, EndcapClient


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body.strip() + "\n", encoding="utf-8")
    return path


def _line(
    txn: str, line_no: int, at: str, sku: str, qty: int, value: float, customer: str
) -> dict[str, object]:
    return {
        "transaction_id": txn,
        "line_no": line_no,
        "occurred_at": at,
        "sku": sku,
        "quantity": qty,
        "sales_value": value,
        "customer_id": customer,
    }


@pytest.fixture
def retailer_files(tmp_path: Path) -> dict[str, Path]:
    tag = uuid.uuid4().hex[:6]  # the run's database is shared: keep this test's rows its own
    return {
        "tag": tag,  # type: ignore[dict-item]
        "products": _write(
            tmp_path,
            "products.csv",
            f"""
sku,name,brand,manufacturer,category,department,private_label
{tag}-1,Milk 1L,Dairyland,Nordic Dairy {tag},Milk,Dairy,false
{tag}-2,Oat drink,Oatly,Oat Co {tag},Plant drinks,Dairy,false
""",
        ),
        "customers": _write(
            tmp_path,
            "customers.csv",
            f"""
customer_id,age_band
{tag}-c1,35-44
{tag}-c2,35-44
{tag}-c3,25-34
""",
        ),
        "identifiers": _write(
            tmp_path,
            "identifiers.csv",
            f"""
customer_id,id_type,id_value
{tag}-c1,email, Shopper.{tag}@Example.com
{tag}-c2,email,shopper.{tag}@example.com
{tag}-c2,phone,070-{tag[:3]} 45 67
{tag}-c3,loyalty_card,L-{tag}
""",
        ),
        "consents": _write(
            tmp_path,
            "consents.csv",
            f"""
customer_id,purpose,status,recorded_at
{tag}-c1,email,granted,2026-01-01T00:00:00Z
{tag}-c2,targeting_onsite,granted,2026-01-02T00:00:00Z
""",
        ),
        "transactions": _write(
            tmp_path,
            "transactions.ndjson",
            "\n".join(
                json.dumps(line)
                for line in (
                    _line(f"{tag}-t1", 1, "2026-02-01T10:00:00Z", f"{tag}-1", 2, 25.8, f"{tag}-c1"),
                    _line(f"{tag}-t1", 2, "2026-02-01T10:00:00Z", f"{tag}-2", 1, 19.9, f"{tag}-c1"),
                    _line(f"{tag}-t2", 1, "2026-02-02T10:00:00Z", f"{tag}-1", 1, 12.9, f"{tag}-c3"),
                )
            ),
        ),
    }


def _load_all(admin: EndcapClient, files: dict[str, Path]) -> None:
    for entity in ("products", "customers", "identifiers", "consents", "transactions"):
        job = admin.wait(admin.upload(entity, files[entity]).id)
        assert job.status == "succeeded", job
        assert job.result is not None
        assert job.result["report"]["rows_rejected"] == 0


async def test_upload_resolve_consent_and_erase(
    admin: EndcapClient, retailer_files: dict[str, Path], engine: AsyncEngine
) -> None:
    tag = str(retailer_files["tag"])
    _load_all(admin, retailer_files)

    # Key chain: c1 and c2 share an e-mail (in different spellings) and are one profile.
    found = admin.lookup("email", f"SHOPPER.{tag}@example.com ")
    assert not found.shared
    assert len(found.profiles) == 1
    profile = found.profiles[0]
    assert sorted(c.customer_id for c in profile.customers) == [f"{tag}-c1", f"{tag}-c2"]
    digest = hashlib.sha256(f"shopper.{tag}@example.com".encode()).hexdigest()
    assert {i.value for i in profile.identifiers if i.id_type == "email"} == {digest}
    assert any(m.kind == "merge" for m in profile.merges)

    # Consent: derived from the ledger across both records; a withdrawal wins from then on.
    state = {p.purpose: p.granted for p in admin.consents(profile.profile_id).purposes}
    assert state == {
        "email": True,
        "targeting_onsite": True,
        "targeting_offsite": False,
        "measurement": False,
    }
    admin.record_consent(f"{tag}-c2", "email", "withdrawn", recorded_at="2026-03-01T00:00:00Z")
    state = {p.purpose: p.granted for p in admin.consents(profile.profile_id).purposes}
    assert state["email"] is False

    # Erasure by phone removes the whole profile (both records), detaching purchases.
    tombstone = admin.erase(id_type="phone", value=f"+4670{tag[:3]}4567")
    assert tombstone.customers_removed == 2
    assert tombstone.identifiers_removed == 3
    assert tombstone.consent_events_removed == 3
    assert tombstone.transactions_affected == 2

    with pytest.raises(EndcapAPIError) as gone:
        admin.lookup("email", f"shopper.{tag}@example.com")
    assert gone.value.status == 404
    with pytest.raises(EndcapAPIError) as profile_gone:
        admin.profile(profile.profile_id)
    assert profile_gone.value.status == 404

    async with engine.connect() as connection:
        for table, column in (("customers", "customer_id"), ("transactions", "customer_id")):
            count = await connection.scalar(
                select(func.count()).select_from(text(table)).where(text(f"{column} IN (:a, :b)")),
                {"a": f"{tag}-c1", "b": f"{tag}-c2"},
            )
            assert count == 0, table
        assert (
            await connection.scalar(
                text("SELECT count(*) FROM identifiers WHERE id_value = :d"), {"d": digest}
            )
            == 0
        )
        assert (
            await connection.scalar(
                text("SELECT count(*) FROM profiles WHERE id = :p"), {"p": profile.profile_id}
            )
            == 0
        )
        # Later aggregates: the detached lines still count in sales, but for nobody.
        per_customer = await connection.scalar(
            text(
                "SELECT count(DISTINCT profile_id) FROM transactions WHERE transaction_id LIKE :t"
            ),
            {"t": f"{tag}-%"},
        )
        assert per_customer == 1  # only c3 remains a known shopper
        total = await connection.scalar(
            text("SELECT sum(sales_value) FROM transactions WHERE transaction_id LIKE :t"),
            {"t": f"{tag}-%"},
        )
        assert float(total) == pytest.approx(58.6)


async def test_a_reload_after_erasure_does_not_bring_the_shopper_back(
    admin: EndcapClient, retailer_files: dict[str, Path], engine: AsyncEngine
) -> None:
    """The retailer's next export still holds the erased shopper: reloading it must not
    undo the erasure (it brought back the customer, identifiers, consents and links)."""
    tag = str(retailer_files["tag"])
    _load_all(admin, retailer_files)
    admin.erase(id_type="phone", value=f"+4670{tag[:3]}4567")  # c1 and c2, one profile

    suppressed = {}
    for entity in ("customers", "identifiers", "consents", "transactions"):
        job = admin.wait(admin.upload(entity, retailer_files[entity]).id)
        assert job.status == "succeeded", job
        assert job.result is not None
        suppressed[entity] = job.result["report"]["rows_suppressed"]

    assert suppressed == {"customers": 2, "identifiers": 3, "consents": 2, "transactions": 2}
    with pytest.raises(EndcapAPIError) as gone:
        admin.lookup("email", f"shopper.{tag}@example.com")
    assert gone.value.status == 404
    assert len(admin.lookup("loyalty_card", f"L-{tag}").profiles) == 1  # c3 is not erased
    async with engine.connect() as connection:
        back = await connection.scalar(
            text("SELECT count(*) FROM customers WHERE customer_id IN (:a, :b)"),
            {"a": f"{tag}-c1", "b": f"{tag}-c2"},
        )
        lines = (
            await connection.execute(
                text(
                    "SELECT customer_id, profile_id FROM transactions"
                    " WHERE transaction_id = :t ORDER BY line_ref"
                ),
                {"t": f"{tag}-t1"},
            )
        ).all()
    assert back == 0
    assert [tuple(line) for line in lines] == [(None, None), (None, None)]  # anonymous


def test_bad_upload_is_a_failed_job_with_the_rejected_rows(
    admin: EndcapClient, tmp_path: Path
) -> None:
    bad = _write(tmp_path, "stores.csv", "store_id,name\n,No id\nS1,Fine\nS1,Twice")
    job = admin.wait(admin.upload("stores", bad).id)

    assert job.status == "failed"
    assert job.result is not None
    report = job.result["report"]
    assert report["status"] == "rejected"
    assert report["rows_inserted"] == 0
    reasons = {(r["line"], r["column"]) for r in report["rejections"]}
    assert (2, "store_id") in reasons
    assert admin.ingest_run(uuid.UUID(report["id"])).rows_rejected == report["rows_rejected"]


def test_a_csv_with_bare_cr_line_ends_is_a_failed_job_with_its_report(
    admin: EndcapClient, tmp_path: Path
) -> None:
    mac = tmp_path / "stores.csv"
    mac.write_bytes(b"store_id,name\rS905,A\r")
    job = admin.wait(admin.upload("stores", mac).id)

    assert job.status == "failed"
    assert job.result is not None
    report = job.result["report"]
    assert (report["status"], report["rows_inserted"]) == ("rejected", 0)
    assert [(r["line"], r["column"]) for r in report["rejections"]] == [(1, "file")]
    assert report["rejections"][0]["reason"].startswith("line endings are bare CR")


def test_an_ndjson_upload_names_every_line_that_is_not_json(
    admin: EndcapClient, tmp_path: Path
) -> None:
    joined = tmp_path / "stores.ndjson"
    joined.write_bytes(
        b'{"store_id": "S906", "name": "A"}\r\n'
        b'{"store_id": "S907", "name": \r\n'
        b'\xef\xbb\xbf{"store_id": "S908"}\n'
        b'{"store_id": "S909"}\r'
        b"S910\n"
    )
    job = admin.wait(admin.upload("stores", joined).id)

    assert job.status == "failed"
    assert job.result is not None
    report = job.result["report"]
    assert (report["status"], report["rows_read"], report["rows_inserted"]) == ("rejected", 5, 0)
    assert [(r["line"], r["column"], r["reason"]) for r in report["rejections"]] == [
        (2, "row", "not valid JSON (Expecting value at column 30)"),
        (3, "row", "the line starts with a byte order mark (U+FEFF), which only the first"
                   " line may: were files joined together? remove it"),
        (5, "row", "not valid JSON (Expecting value at column 1)"),
    ]  # fmt: skip


def test_upload_of_unknown_entity_or_file_type_is_422(admin: EndcapClient, tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "a\n1")
    with pytest.raises(EndcapAPIError) as entity:
        admin.upload("planets", path)
    with pytest.raises(EndcapAPIError) as kind:
        admin.upload("stores", _write(tmp_path, "x.xlsx", "a"))
    assert entity.value.status == kind.value.status == 422


def test_brand_cannot_reach_customer_level_data(brand: EndcapClient) -> None:
    for call in (
        lambda: brand.lookup("email", "someone@example.com"),
        lambda: brand.profile(1),
        lambda: brand.erase(customer_id="x"),
    ):
        with pytest.raises(EndcapAPIError) as refused:
            call()
        assert refused.value.status == 403


def test_ingest_runs_page_in_the_order_they_started(admin: EndcapClient, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    for i in range(3):
        path = _write(tmp_path, f"stores{i}.csv", f"store_id\n{tag}-{i}\n")
        assert admin.wait(admin.upload("stores", path).id).status == "succeeded"

    seen: list[str] = []
    cursor = None
    while True:
        params = {"entity": "stores", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = admin.request("GET", "/api/v1/ingest/runs", params=params).json()
        assert len(page["items"]) <= 1
        seen += [run["id"] for run in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3
    started = [admin.ingest_run(uuid.UUID(run)).started_at for run in seen]
    assert started == sorted(started)
