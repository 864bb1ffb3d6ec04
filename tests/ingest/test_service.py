"""IngestService on a real, fresh database: good loads, idempotent reloads, updates, and
every kind of bad input in the issue's list. Each bad file gets a clear, named error
and leaves everything already stored exactly as it was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from endcap.catalog.models import Brand, Manufacturer, Product, Store
from endcap.db.base import table_of
from endcap.errors import InvalidRequestError
from endcap.identity.models import Customer
from endcap.ingest.schemas import IngestReport
from endcap.ingest.service import IngestService
from endcap.purchases.models import TransactionLine
from tests.ingest.support import (
    DATA_TABLES,
    PRODUCTS_CSV,
    Db,
    make_settings,
    write,
    write_csv,
    write_ndjson,
    write_parquet,
)

PRODUCTS = table_of(Product)
STORES = table_of(Store)
CUSTOMERS = table_of(Customer)
BRANDS = table_of(Brand)
MANUFACTURERS = table_of(Manufacturer)
TRANSACTIONS = table_of(TransactionLine)

TX_HEADER = "transaction_id,line_no,occurred_at,sku,quantity,sales_value,customer_id,store_id\n"
TX_GOOD = TX_HEADER + (
    "T1,1,2024-03-01T10:00:00Z,SKU1,2,25.90,C1,S1\n"
    "T1,2,2024-03-01T10:00:00Z,SKU2,1,18.50,C1,S1\n"
    "T2,1,2024-03-02T09:30:00Z,SKU3,1,54.00,,S2\n"
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


async def transactions(db: Db) -> list[tuple[object, ...]]:
    t = TRANSACTIONS.c
    return await db.select(
        select(
            t.transaction_id,
            t.line_ref,
            t.occurred_at,
            t.sku,
            t.quantity,
            t.sales_value,
            t.discount,
            t.customer_id,
            t.store_id,
            t.channel,
        ).order_by(t.transaction_id, t.line_ref)
    )


async def seeded(db: Db, tmp_path: Path) -> None:
    """The catalog, two stores, three customers and three good transaction lines."""
    await db.seed_catalog(tmp_path)
    report = await db.load("transactions", write(tmp_path / "good_tx.csv", TX_GOOD))
    assert (report.status, report.rows_inserted) == ("loaded", 3)


async def rejected_and_unchanged(
    db: Db, entity: str, path: Path, **settings: object
) -> IngestReport:
    """Load a bad file: it is rejected, nothing is applied, and every table is as before."""
    before = await db.snapshot(*DATA_TABLES)
    report = await db.load(entity, path, make_settings(**settings))  # type: ignore[arg-type]
    assert report.status == "rejected"
    assert (report.rows_inserted, report.rows_updated) == (0, 0)
    assert report.rows_rejected >= 1
    assert await db.snapshot(*DATA_TABLES) == before
    # The report is kept, with its rejected rows.
    kept = await db.rows(
        "SELECT status, rows_rejected, rejections FROM ingest_runs WHERE source_name = :name "
        "ORDER BY started_at DESC",
        name=path.name,
    )
    status, rows_rejected, rejections = kept[0]
    assert (status, rows_rejected) == ("rejected", report.rows_rejected)
    stored = rejections if isinstance(rejections, list) else json.loads(rejections)
    assert stored == [r.model_dump() for r in report.rejections]
    return report


def reasons(report: IngestReport) -> list[tuple[int | None, str, str]]:
    return [(r.line, r.column, r.reason) for r in report.rejections]


# -- good loads ------------------------------------------------------------------------------


async def test_products_load_the_catalog_with_defaults_and_attributes(
    db: Db, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "products.csv",
        "sku,name,brand,manufacturer,category,department,subcategory,private_label,"
        "package_size,origin,organic\n"
        "SKU1,Oat milk 1l,Oatly,Oatly AB,Dairy alternatives,Dairy,Oat drinks,no,1 l,SE,yes\n"
        "SKU2,Crisp bread,Wasa,Barilla,Bread,,,false,,,\n"
        "SKU3,Store coffee,ICA Basic,ICA,Coffee,Pantry,,YES,500 g,BR,\n",
    )
    report = await db.load("products", path)

    assert report.status == "loaded"
    assert (report.rows_read, report.rows_inserted, report.rows_updated) == (3, 3, 0)
    assert (report.rows_rejected, report.rejections, report.chunks) == (0, [], 1)
    p = PRODUCTS.c
    rows = await db.select(
        select(
            p.sku,
            p.name,
            p.department,
            p.category,
            p.subcategory,
            p.private_label,
            p.package_size,
            p.attributes,
            BRANDS.c.name,
            MANUFACTURERS.c.name,
        )
        .join(BRANDS, BRANDS.c.id == p.brand_id)
        .join(MANUFACTURERS, MANUFACTURERS.c.id == BRANDS.c.manufacturer_id)
        .order_by(p.sku)
    )
    assert rows == [
        (
            "SKU1",
            "Oat milk 1l",
            "Dairy",
            "Dairy alternatives",
            "Oat drinks",
            False,
            "1 l",
            {"origin": "SE", "organic": "yes"},
            "Oatly",
            "Oatly AB",
        ),
        ("SKU2", "Crisp bread", "Unassigned", "Bread", None, False, None, {}, "Wasa", "Barilla"),
        ("SKU3", "Store coffee", "Pantry", "Coffee", None, True, "500 g", {"origin": "BR"},
         "ICA Basic", "ICA"),
    ]  # fmt: skip
    assert await db.rows("SELECT name, private_label FROM brands ORDER BY name") == [
        ("ICA Basic", True),
        ("Oatly", False),
        ("Wasa", False),
    ]
    assert await db.count("manufacturers") == 3


async def test_customers_keep_extra_columns_as_attributes_and_get_one_profile_each(
    db: Db, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "customers.csv",
        "customer_id,age_band,household_size,postal_code\n"
        "C1,25-34,2,11122\n"
        "C2,35-44,,41101\n"
        "C3,,,\n",
    )
    report = await db.load("customers", path)

    assert (report.status, report.rows_inserted) == ("loaded", 3)
    assert report.resolution is not None
    assert report.resolution["customers"] == 3
    assert report.resolution["profiles"] == 3
    c = CUSTOMERS.c
    rows = await db.select(select(c.customer_id, c.attributes).order_by(c.customer_id))
    assert rows == [
        ("C1", {"age_band": "25-34", "household_size": "2", "postal_code": "11122"}),
        ("C2", {"age_band": "35-44", "postal_code": "41101"}),
        ("C3", {}),
    ]
    assert await db.count("profiles") == 3
    assert await db.scalar("SELECT count(DISTINCT profile_id) FROM customers") == 3


@pytest.mark.parametrize(
    "column", ["email", "Mobile_Phone", "home_address", "first_name", "date_of_birth"]
)
async def test_contact_data_as_an_attribute_column_is_refused(
    db: Db, tmp_path: Path, column: str
) -> None:
    path = write(tmp_path / "customers.csv", f"customer_id,age_band,{column}\nC1,25-34,x\n")

    report = await db.load("customers", path)

    assert report.status == "rejected"
    assert report.rejections[0].column == "file"
    assert column in report.rejections[0].reason
    assert "identifiers" in report.rejections[0].reason
    assert await db.count("customers") == 0


async def test_transactions_store_typed_values_and_resolve_profiles(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)

    rows = await transactions(db)
    assert rows == [
        ("T1", "1", utc(2024, 3, 1, 10), "SKU1", Decimal(2), Decimal("25.90"), Decimal(0),
         "C1", "S1", "store"),
        ("T1", "2", utc(2024, 3, 1, 10), "SKU2", Decimal(1), Decimal("18.50"), Decimal(0),
         "C1", "S1", "store"),
        ("T2", "1", utc(2024, 3, 2, 9, 30), "SKU3", Decimal(1), Decimal("54.00"), Decimal(0),
         None, "S2", "store"),
    ]  # fmt: skip
    # A known customer's lines carry its profile; an anonymous line has none.
    assert await db.rows(
        "SELECT t.transaction_id, t.line_ref FROM transactions t "
        "JOIN customers c ON c.customer_id = t.customer_id AND c.profile_id = t.profile_id "
        "ORDER BY 1, 2"
    ) == [("T1", "1"), ("T1", "2")]
    assert await db.rows("SELECT profile_id FROM transactions WHERE transaction_id = 'T2'") == [
        (None,)
    ]


async def test_transactions_without_line_no_are_identified_by_transaction_and_sku(
    db: Db, tmp_path: Path
) -> None:
    await db.seed_catalog(tmp_path)
    content = (
        "transaction_id,occurred_at,sku,quantity,sales_value,channel,discount\n"
        "T9,2024-03-01 10:00,SKU1,1,10,online,1.50\n"
        "T9,2024-03-01 10:00,SKU2,0,0,,\n"  # a zero-value line is real and allowed
    )
    report = await db.load("transactions", write(tmp_path / "tx.csv", content))
    assert (report.status, report.rows_inserted) == ("loaded", 2)
    t = TRANSACTIONS.c
    assert await db.select(
        select(
            t.transaction_id, t.line_ref, t.quantity, t.sales_value, t.discount, t.channel
        ).order_by(t.line_ref)
    ) == [
        ("T9", "sku:SKU1", Decimal(1), Decimal(10), Decimal("1.50"), "online"),
        ("T9", "sku:SKU2", Decimal(0), Decimal(0), Decimal(0), "store"),
    ]

    # The same sku twice in one transaction without line_no is the same line, twice.
    dup = write(tmp_path / "tx_dup.csv", content + "T9,2024-03-01 10:00,SKU1,3,30,online,0\n")
    report = await rejected_and_unchanged(db, "transactions", dup)
    assert reasons(report) == [(4, "transaction_id+line_ref", "duplicate of line 2")]

    # A changed sku line is an update of that line, not a new one.
    changed = write(tmp_path / "tx2.csv", content.replace("SKU1,1,10", "SKU1,4,40"))
    report = await db.load("transactions", changed)
    assert (report.rows_inserted, report.rows_updated) == (0, 1)
    assert await db.count("transactions") == 2


async def test_iso_8601_times_are_utc_when_no_offset_is_given(db: Db, tmp_path: Path) -> None:
    await db.seed_catalog(tmp_path)
    content = TX_HEADER + (
        "T1,1,2024-03-01T10:00:00+02:00,SKU1,1,1,,\n"  # offset: converted to UTC
        "T1,2,2024-03-01 10:00:00,SKU1,1,1,,\n"  # naive: UTC
        "T1,3,2024-03-01,SKU1,1,1,,\n"  # a date: its midnight
        "T1,4,2024-03-01T10:00:00.250Z,SKU1,1,1,,\n"
        "T1,5,2024-03-01T23:30-01:00,SKU1,1,1,,\n"
    )
    report = await db.load("transactions", write(tmp_path / "tx.csv", content))
    assert report.status == "loaded", report.rejections
    t = TRANSACTIONS.c
    assert await db.select(select(t.line_ref, t.occurred_at).order_by(t.line_ref)) == [
        ("1", utc(2024, 3, 1, 8)),
        ("2", utc(2024, 3, 1, 10)),
        ("3", utc(2024, 3, 1)),
        ("4", utc(2024, 3, 1, 10, 0, 0, 250_000)),
        ("5", utc(2024, 3, 2, 0, 30)),
    ]


# -- the three formats -----------------------------------------------------------------------

TX_RECORDS = [
    {"transaction_id": "T1", "line_no": "1", "occurred_at": "2024-03-01T10:00:00Z",
     "sku": "SKU1", "quantity": "2", "sales_value": "25.90", "customer_id": "C1",
     "store_id": "S1"},
    {"transaction_id": "T1", "line_no": "2", "occurred_at": "2024-03-01T10:00:00Z",
     "sku": "SKU2", "quantity": "1.5", "sales_value": "18.50", "customer_id": "C1",
     "store_id": "S1"},
    {"transaction_id": "T2", "line_no": "1", "occurred_at": "2024-03-02T09:30:00Z",
     "sku": "SKU3", "quantity": "1", "sales_value": "54", "customer_id": None,
     "store_id": "S2"},
]  # fmt: skip
TX_EXPECTED = [
    ("T1", "1", utc(2024, 3, 1, 10), "SKU1", Decimal(2), Decimal("25.90"), Decimal(0),
     "C1", "S1", "store"),
    ("T1", "2", utc(2024, 3, 1, 10), "SKU2", Decimal("1.5"), Decimal("18.50"), Decimal(0),
     "C1", "S1", "store"),
    ("T2", "1", utc(2024, 3, 2, 9, 30), "SKU3", Decimal(1), Decimal(54), Decimal(0),
     None, "S2", "store"),
]  # fmt: skip


def tx_file(tmp_path: Path, file_format: str, stem: str = "tx") -> Path:
    path = tmp_path / f"{stem}.{file_format}"
    if file_format == "csv":
        header = list(TX_RECORDS[0])
        return write_csv(path, header, [[r[h] or "" for h in header] for r in TX_RECORDS])
    if file_format == "ndjson":
        # Native JSON numbers and null, as real exports write them.
        return write_ndjson(
            path,
            [
                {**r, "line_no": int(str(r["line_no"])), "quantity": float(str(r["quantity"]))}
                for r in TX_RECORDS
            ],
        )
    # Parquet with native types: integers, doubles, decimals, timestamps.
    table = pa.table(
        {
            "transaction_id": pa.array([r["transaction_id"] for r in TX_RECORDS]),
            "line_no": pa.array([int(str(r["line_no"])) for r in TX_RECORDS], pa.int32()),
            "occurred_at": pa.array(
                [utc(2024, 3, 1, 10), utc(2024, 3, 1, 10), utc(2024, 3, 2, 9, 30)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "sku": pa.array([r["sku"] for r in TX_RECORDS]),
            "quantity": pa.array([2.0, 1.5, 1.0], pa.float64()),
            "sales_value": pa.array(
                [Decimal("25.90"), Decimal("18.50"), Decimal("54.00")], pa.decimal128(10, 2)
            ),
            "customer_id": pa.array([r["customer_id"] for r in TX_RECORDS]),
            "store_id": pa.array([r["store_id"] for r in TX_RECORDS]),
        }
    )
    return write_parquet(path, table)


@pytest.mark.parametrize("file_format", ["csv", "parquet", "ndjson"])
async def test_each_format_loads_the_same_rows(db: Db, tmp_path: Path, file_format: str) -> None:
    await db.seed_catalog(tmp_path)
    report = await db.load("transactions", tx_file(tmp_path, file_format))
    assert report.status == "loaded", report.rejections
    assert (report.file_format, report.rows_read, report.rows_inserted) == (file_format, 3, 3)
    assert await transactions(db) == TX_EXPECTED


async def test_the_same_rows_in_another_format_change_nothing(db: Db, tmp_path: Path) -> None:
    await db.seed_catalog(tmp_path)
    assert (await db.load("transactions", tx_file(tmp_path, "csv"))).rows_inserted == 3
    before = await db.snapshot(*DATA_TABLES)
    for file_format in ("parquet", "ndjson"):
        report = await db.load("transactions", tx_file(tmp_path, file_format, "again"))
        assert (report.status, report.rows_inserted, report.rows_updated) == ("loaded", 0, 0)
    assert await db.snapshot(*DATA_TABLES) == before


async def test_a_nul_character_in_a_value_is_named(db: Db, tmp_path: Path) -> None:
    # PostgreSQL's text cannot hold one: the load would fail as a whole, unexplained.
    path = tmp_path / "stores.csv"
    path.write_bytes(b"store_id,name,format\nS90,Fine,big\nS91,a\x00b,big\nS92,Ok,x\x00\n")
    report = await rejected_and_unchanged(db, "stores", path)
    assert [(line, column) for line, column, _ in reasons(report)] == [(3, "name"), (4, "format")]
    assert all("NUL" in reason for _, _, reason in reasons(report))


async def test_a_column_without_a_name_is_refused(db: Db, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "customer_id,,age_band\nC9,x,35-44\n")
    report = await rejected_and_unchanged(db, "customers", path)
    assert reasons(report) == [(1, "file", "a column has no name: name every column")]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("customers.csv", b"customer_id,fav\x00col\nC9,x\n"),
        ("customers.ndjson", b'{"customer_id": "C9", "fav\\u0000col": "x"}\n'),
        ("customers.csv", b"customer_id,tab\tcol\nC9,x\n"),
    ],
)
async def test_a_control_character_in_a_column_name_is_refused(
    db: Db, tmp_path: Path, name: str, content: bytes
) -> None:
    """An extra column becomes an attribute; PostgreSQL failed the load on a NUL in its name."""
    path = tmp_path / name
    path.write_bytes(content)
    report = await rejected_and_unchanged(db, "customers", path)
    [(line, column, reason)] = reasons(report)
    assert (line, column) == (1 if name.endswith(".csv") else 0, "file")  # 0: the whole file
    assert reason.endswith("hold a control character: name columns in plain text")
    assert "\x00" not in reason


async def test_an_ndjson_column_null_in_every_row_is_checked_like_any_other(
    db: Db, tmp_path: Path
) -> None:
    # Arrow types an all-null column "null"; it must still be text to the checks.
    required = write_ndjson(tmp_path / "none.ndjson", [{"customer_id": None}])
    report = await rejected_and_unchanged(db, "customers", required)
    assert reasons(report) == [(1, "customer_id", "a value is required")]
    optional = write_ndjson(tmp_path / "stores.ndjson", [{"store_id": "S44", "name": None}])
    assert (await db.load("stores", optional)).rows_inserted == 1


async def test_parquet_and_ndjson_extra_columns_become_attributes(db: Db, tmp_path: Path) -> None:
    parquet = write_parquet(
        tmp_path / "customers.parquet",
        pa.table(
            {
                "customer_id": ["C1", "C2"],
                "household_size": pa.array([2, None], pa.int64()),
                "member": [True, False],
            }
        ),
    )
    assert (await db.load("customers", parquet)).rows_inserted == 2
    ndjson = write_ndjson(
        tmp_path / "customers.ndjson",
        [{"customer_id": "C3", "age_band": "18-24"}, {"customer_id": "C4", "vip": True}],
    )
    assert (await db.load("customers", ndjson)).rows_inserted == 2
    c = CUSTOMERS.c
    assert await db.select(select(c.customer_id, c.attributes).order_by(c.customer_id)) == [
        ("C1", {"household_size": "2", "member": "true"}),
        ("C2", {"member": "false"}),
        ("C3", {"age_band": "18-24"}),
        ("C4", {"vip": "true"}),
    ]


# -- reloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "content"),
    [
        ("products", "sku,name,brand,manufacturer,category,note\n"
         "SKU1,Oat milk 1l,Oatly,Oatly AB,Dairy alternatives,\n"
         "SKU2,Crisp bread,Wasa,Barilla,Bread,extra\nSKU5,Tea,Lipton,Unilever,Tea,x\n"),
        ("stores", "store_id,name,region\nS1,Central,Stockholm\nS3,,\n"),
        ("customers", "customer_id,age_band\nC1,25-34\nC4,\n"),
        ("identifiers", "customer_id,id_type,id_value,observed_at\n"
         "C1,email,Anna@Example.com,2024-01-01T00:00:00Z\nC2,phone,070-123 45 67,\n"
         "C3,loyalty_card,7350001,2024-02-01\n"),
        ("consents", "customer_id,purpose,status,recorded_at,source\n"
         "C1,email,granted,2024-01-01T00:00:00Z,web\n"
         "C1,email,withdrawn,2024-02-01T00:00:00Z,\nC2,measurement,granted,2024-01-05,app\n"),
        ("transactions", TX_GOOD + "T3,1,2024-03-03T12:00:00+01:00,SKU1,0.333,3.33,C3,\n"),
    ],
)  # fmt: skip
async def test_loading_the_same_file_twice_changes_nothing(
    db: Db, tmp_path: Path, entity: str, content: str
) -> None:
    await db.seed_catalog(tmp_path)
    path = write(tmp_path / f"{entity}.csv", content)
    first = await db.load(entity, path)
    assert first.status == "loaded", first.rejections
    assert first.rows_inserted >= 1
    before = await db.snapshot(*DATA_TABLES)

    second = await db.load(entity, path)

    assert (second.status, second.rows_read) == ("loaded", first.rows_read)
    assert (second.rows_inserted, second.rows_updated) == (0, 0)
    assert await db.snapshot(*DATA_TABLES) == before


async def test_a_reload_with_changed_values_updates_just_those_rows(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    before = {row[:2]: row for row in await transactions(db)}
    products_before = await db.snapshot("products")

    changed = TX_HEADER + (
        "T1,1,2024-03-01T10:00:00Z,SKU1,3,38.85,C1,S1\n"  # quantity and value changed
        "T1,2,2024-03-01T10:00:00Z,SKU2,1,18.50,C1,S1\n"  # unchanged
        "T2,1,2024-03-02T09:30:00Z,SKU3,1,54.00,C2,S2\n"  # now has a customer
        "T4,1,2024-03-04T08:00:00Z,SKU2,2,37.00,,\n"  # new
    )
    report = await db.load("transactions", write(tmp_path / "tx_changed.csv", changed))

    assert report.status == "loaded"
    assert (report.rows_read, report.rows_inserted, report.rows_updated) == (4, 1, 2)
    after = {row[:2]: row for row in await transactions(db)}
    assert after[("T1", "1")][4:6] == (Decimal(3), Decimal("38.85"))
    assert after[("T1", "2")] == before[("T1", "2")]
    assert after[("T2", "1")][7] == "C2"
    assert after[("T4", "1")][4:6] == (Decimal(2), Decimal("37.00"))
    assert len(after) == 4
    # The customer's profile follows the line to its new customer.
    assert await db.rows(
        "SELECT count(*) FROM transactions t JOIN customers c ON c.customer_id = 'C2' "
        "WHERE t.transaction_id = 'T2' AND t.profile_id = c.profile_id"
    ) == [(1,)]
    assert await db.snapshot("products") == products_before


async def test_a_reload_of_products_updates_changed_rows_and_moves_brands(
    db: Db, tmp_path: Path
) -> None:
    await db.seed_catalog(tmp_path)
    stores_before = await db.snapshot("stores", "customers", "profiles")
    untouched = await db.rows("SELECT * FROM products WHERE sku = 'SKU1'")
    changed = (
        "sku,name,brand,manufacturer,category\n"
        "SKU1,Oat milk 1l,Oatly,Oatly AB,Dairy alternatives\n"
        "SKU2,Crisp bread rye,Wasa,Barilla,Bread\n"  # renamed
        "SKU3,Coffee 500g,Gevalia,JDE,Coffee\n"  # moved to another brand and maker
        "SKU4,Tea,Lipton,Unilever,Tea\n"  # new
    )
    report = await db.load("products", write(tmp_path / "products2.csv", changed))

    assert (report.rows_read, report.rows_inserted, report.rows_updated) == (4, 1, 2)
    assert await db.rows(
        "SELECT p.sku, p.name, b.name, m.name FROM products p JOIN brands b ON b.id = p.brand_id "
        "JOIN manufacturers m ON m.id = b.manufacturer_id ORDER BY p.sku"
    ) == [
        ("SKU1", "Oat milk 1l", "Oatly", "Oatly AB"),
        ("SKU2", "Crisp bread rye", "Wasa", "Barilla"),
        ("SKU3", "Coffee 500g", "Gevalia", "JDE"),
        ("SKU4", "Tea", "Lipton", "Unilever"),
    ]
    assert await db.rows("SELECT * FROM products WHERE sku = 'SKU1'") == untouched
    assert await db.snapshot("stores", "customers", "profiles") == stores_before


async def test_a_reload_of_customers_replaces_their_attributes(db: Db, tmp_path: Path) -> None:
    await db.seed_catalog(tmp_path)
    profiles = await db.rows("SELECT customer_id, profile_id FROM customers ORDER BY 1")
    report = await db.load(
        "customers",
        write(tmp_path / "customers2.csv", "customer_id,age_band,region\nC1,25-34,\nC2,45-54,N\n"),
    )
    assert (report.rows_inserted, report.rows_updated) == (0, 1)
    c = CUSTOMERS.c
    assert await db.select(select(c.customer_id, c.attributes).order_by(c.customer_id)) == [
        ("C1", {"age_band": "25-34"}),
        ("C2", {"age_band": "45-54", "region": "N"}),
        ("C3", {"age_band": "45-54"}),
    ]
    # Nobody moved profile on an attribute change.
    assert await db.rows("SELECT customer_id, profile_id FROM customers ORDER BY 1") == profiles


# -- bad input: each gets a clear, named error and changes nothing ---------------------------


@pytest.mark.parametrize("file_format", ["csv", "ndjson", "parquet"])
async def test_a_missing_required_column_rejects_the_file(
    db: Db, tmp_path: Path, file_format: str
) -> None:
    await seeded(db, tmp_path)
    records = [{k: v for k, v in r.items() if k not in {"quantity", "sku"}} for r in TX_RECORDS]
    path = tmp_path / f"no_quantity.{file_format}"
    if file_format == "csv":
        write_csv(path, list(records[0]), [list(r.values()) for r in records])
    elif file_format == "ndjson":
        write_ndjson(path, records)
    else:
        write_parquet(path, pa.Table.from_pylist(records))

    report = await rejected_and_unchanged(db, "transactions", path)

    line = 1 if file_format == "csv" else None
    assert [(r.line or None, r.column, r.reason) for r in report.rejections] == [
        (line, "file", "missing required column(s): sku, quantity")
    ]


async def test_a_wrong_type_names_the_line_and_column(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + (
        "T5,1,2024-03-05T10:00:00Z,SKU1,two,10,C1,S1\n"
        "T5,2,2024-03-05T10:00:00Z,SKU1,1,12.50,C1,S1\n"
        'T5,x,2024-03-05T10:00:00Z,SKU1,1,"12,50",C1,S1\n'
    )
    report = await rejected_and_unchanged(
        db, "transactions", write(tmp_path / "wrong_type.csv", content)
    )
    assert reasons(report) == [
        (2, "quantity", "must be a number (got 'two')"),
        (4, "line_no", "must be a whole number (got 'x')"),
        (4, "sales_value", "must be a number (got '12,50')"),
    ]
    assert (report.rows_read, report.rows_rejected) == (3, 2)  # rows, not reasons


async def test_a_row_with_several_unknowns_is_one_rejected_row(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + (
        "T8,1,2024-03-05T10:00:00Z,SKU1,1,10,C1,S1\n"
        "T8,2,2024-03-05T10:00:00Z,NOSKU,1,10,NOBODY,NOSTORE\n"
        "T8,1,2024-03-05T10:00:00Z,SKU1,1,10,NOBODY,S1\n"  # a repeat and an unknown
    )
    report = await rejected_and_unchanged(db, "transactions", write(tmp_path / "refs.csv", content))
    assert sorted((line, column) for line, column, _ in reasons(report)) == [
        (3, "customer_id"), (3, "sku"), (3, "store_id"),
        (4, "customer_id"), (4, "transaction_id+line_ref"),
    ]  # fmt: skip
    assert (report.rows_read, report.rows_rejected) == (3, 2)


async def test_a_bad_choice_and_a_bad_boolean_are_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    report = await rejected_and_unchanged(
        db,
        "transactions",
        write(tmp_path / "channel.csv", "transaction_id,occurred_at,sku,quantity,sales_value,"
              "channel\nT5,2024-03-05,SKU1,1,1,phone\n"),
    )  # fmt: skip
    assert reasons(report) == [(2, "channel", "must be one of store, online (got 'phone')")]
    report = await rejected_and_unchanged(
        db,
        "products",
        write(tmp_path / "pl.csv", "sku,name,brand,manufacturer,category,private_label\n"
              "SKU1,Oat milk 1l,Oatly,Oatly AB,Dairy alternatives,no\n"
              "SKU2,Crisp bread,Wasa,Barilla,Bread,maybe\n"),
    )  # fmt: skip
    assert reasons(report) == [(3, "private_label", "must be true or false (got 'maybe')")]


@pytest.mark.parametrize("value", ["2024-13-01", "2024-02-30", "yesterday", "01/03/2024"])
async def test_an_unparseable_date_is_named(db: Db, tmp_path: Path, value: str) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + (
        f"T5,1,2024-03-05T10:00:00Z,SKU1,1,10,C1,S1\nT5,2,{value},SKU1,1,10,C1,S1\n"
    )
    report = await rejected_and_unchanged(db, "transactions", write(tmp_path / "date.csv", content))
    assert reasons(report) == [(3, "occurred_at", f"not an ISO-8601 date-time (got {value!r})")]


async def test_a_negative_quantity_is_rejected_unless_returns_are_enabled(
    db: Db, tmp_path: Path
) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + "T6,1,2024-03-06T10:00:00Z,SKU1,-1,-25.90,C1,S1\n"
    path = write(tmp_path / "return.csv", content)

    report = await rejected_and_unchanged(db, "transactions", path)
    assert reasons(report) == [
        (2, "quantity", "must not be negative (returns are not enabled) (got '-1')"),
        (2, "sales_value", "must not be negative (returns are not enabled) (got '-25.90')"),
    ]

    report = await db.load("transactions", path, make_settings(allow_returns=True))
    assert (report.status, report.rows_inserted) == ("loaded", 1)
    t = TRANSACTIONS.c
    assert await db.select(select(t.quantity, t.sales_value).where(t.transaction_id == "T6")) == [
        (Decimal(-1), Decimal("-25.90"))
    ]
    assert await db.count("transactions") == 4


async def test_a_negative_discount_is_rejected_even_with_returns(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = (
        "transaction_id,occurred_at,sku,quantity,sales_value,discount\n"
        "T6,2024-03-06,SKU1,-1,-10,-2\n"
    )
    report = await rejected_and_unchanged(
        db, "transactions", write(tmp_path / "discount.csv", content), allow_returns=True
    )
    assert reasons(report) == [
        (2, "discount", "must not be negative (returns are not enabled) (got '-2')")
    ]


async def test_a_number_too_large_for_its_column_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + (
        "T7,1,2024-03-06T10:00:00Z,SKU1,1000000000,10,C1,S1\n"
        "T7,2,2024-03-06T10:00:00Z,SKU1,1,1000000000000,C1,S1\n"
        "T7,3,2024-03-06T10:00:00Z,SKU1,999999999.999,999999999999.99,C1,S1\n"
    )
    report = await rejected_and_unchanged(db, "transactions", write(tmp_path / "big.csv", content))
    assert reasons(report) == [
        (2, "quantity", "out of range: at most 9 digits before the point (got '1000000000')"),
        (3, "sales_value",
         "out of range: at most 12 digits before the point (got '1000000000000')"),
    ]  # fmt: skip


async def test_a_non_utf8_csv_names_the_line(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = (TX_HEADER + "T8,1,2024-03-06,SKU1,1,10,C1,S1\n" + "T8,2,2024-03-06,SKU1,1,10,C1,S1\n"
               + "T8,3,2024-03-06,SKU1,1,10,Åsa,S1\n").encode("latin-1")  # fmt: skip
    report = await rejected_and_unchanged(
        db, "transactions", write(tmp_path / "latin1.csv", content)
    )
    assert reasons(report) == [(4, "file", "the file is not valid UTF-8")]


async def test_a_non_utf8_line_deep_in_a_streamed_csv_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    lines = [f"T{n},1,2024-03-06,SKU1,1,10,C1,S1\n" for n in range(1, 401)]
    lines[350] = "T351,1,2024-03-06,SKU1,1,10,C1,S\xd61\n"
    content = (TX_HEADER + "".join(lines)).encode("latin-1")
    report = await rejected_and_unchanged(
        db, "transactions", write(tmp_path / "latin1.csv", content), chunk_bytes=1024
    )
    assert reasons(report) == [(352, "file", "the file is not valid UTF-8")]
    assert report.chunks > 5


async def test_a_non_utf8_header_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    report = await rejected_and_unchanged(
        db, "stores", write(tmp_path / "header.csv", "store_id,n\xe4me\nS9,x\n".encode("latin-1"))
    )
    assert reasons(report) == [(1, "file", "the header is not valid UTF-8")]


async def test_a_non_utf8_ndjson_line_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = b'{"store_id": "S8", "name": "Eight"}\n{"store_id": "S9", "name": "G\xf6ta"}\n'
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "stores.ndjson", content))
    assert reasons(report) == [(2, "file", "the file is not valid UTF-8")]


async def test_unknown_sku_customer_and_store_are_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + (
        "T9,1,2024-03-06,SKU1,1,10,C1,S1\n"
        "T9,2,2024-03-06,NOPE,1,10,C1,S1\n"
        "T9,3,2024-03-06,SKU2,1,10,C99,S1\n"
        "T9,4,2024-03-06,SKU2,1,10,,S77\n"
    )
    report = await rejected_and_unchanged(
        db, "transactions", write(tmp_path / "unknown.csv", content)
    )
    assert reasons(report) == [
        (3, "sku", "unknown sku 'NOPE'"),
        (4, "customer_id", "unknown customer_id 'C99'"),
        (5, "store_id", "unknown store_id 'S77'"),
    ]


async def test_one_report_names_bad_values_broken_rows_and_set_faults_together(
    db: Db, tmp_path: Path
) -> None:
    """The rows that pass their own checks are still checked as a set when other rows
    failed: a bad date, a cut row, an unknown sku and a repeated line all in one report,
    each row counted once, so the file is fixed in one round."""
    await seeded(db, tmp_path)
    content = TX_HEADER + (
        "T9,1,2024-03-06,SKU1,1,10,C1,S1\n"
        "T9,2,not-a-date,SKU1,1,10,C1,S1\n"
        "T9,3,2024-03-06,NOPE,1,10,C1,S1\n"
        "T9,1,2024-03-06,SKU2,1,10,C1,S1\n"
        "T9,5,2024-03-06,NOPE,1,10,C99,S1\n"
        "T9,6,2024-03-06\n"
    )
    report = await rejected_and_unchanged(db, "transactions", write(tmp_path / "all.csv", content))
    assert [(line, column) for line, column, _ in reasons(report)] == [
        (3, "occurred_at"),
        (4, "sku"),
        (5, "transaction_id+line_ref"),
        (6, "customer_id"),
        (6, "sku"),
        (7, "row"),
    ]
    assert report.rows_read == 6
    assert report.rows_rejected == 5


async def test_a_consent_dated_in_the_future_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = (
        "customer_id,purpose,status,recorded_at\n"
        "C1,email,granted,2024-01-01\nC1,email,granted,9999-12-31T23:59:59Z\n"
    )
    report = await rejected_and_unchanged(db, "consents", write(tmp_path / "later.csv", content))
    assert reasons(report) == [
        (3, "recorded_at", "in the future (later than the time of the load) (got"
         " '9999-12-31T23:59:59Z')"),
    ]  # fmt: skip


async def test_a_time_whose_offset_carries_it_out_of_the_calendar_is_named(
    db: Db, tmp_path: Path
) -> None:
    """0001-01-01T00:00+14:00 is in year 0 in UTC: the load failed with a raw database
    error (PostgreSQL) or an OverflowError, with no report."""
    await seeded(db, tmp_path)
    content = (
        "customer_id,purpose,status,recorded_at\n"
        "C1,email,granted,2024-01-01\nC1,email,granted,0001-01-01T00:00:00+14:00\n"
        "C1,measurement,granted,1850-06-01\n"
    )
    report = await rejected_and_unchanged(db, "consents", write(tmp_path / "old.csv", content))
    assert [(line, column) for line, column, _ in reasons(report)] == [
        (3, "recorded_at"),
        (4, "recorded_at"),
    ]
    assert all("out of range: from 1900 on" in reason for _, _, reason in reasons(report))


async def test_a_purchase_dated_in_the_future_is_named(db: Db, tmp_path: Path) -> None:
    # Traits are as of the latest purchase: one line in 2999 would move every profile there.
    await seeded(db, tmp_path)
    content = TX_HEADER + (
        "T7,1,2024-03-05T10:00:00Z,SKU1,1,10,C1,S1\nT7,2,2999-01-01T00:00:00Z,SKU1,1,10,C1,S1\n"
    )
    path = write(tmp_path / "later.csv", content)
    report = await rejected_and_unchanged(db, "transactions", path)
    assert reasons(report) == [
        (3, "occurred_at", "in the future (later than the time of the load) (got"
         " '2999-01-01T00:00:00Z')"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("entity", "content"),
    [
        ("identifiers", "customer_id,id_type,id_value\nC1,email,a@example.com\n"
         "C42,loyalty_card,7350001\n"),
        ("consents", "customer_id,purpose,status,recorded_at\n"
         "C1,email,granted,2024-01-01\nC42,email,granted,2024-01-01\n"),
    ],
)  # fmt: skip
async def test_identifiers_and_consents_for_an_unknown_customer_are_named(
    db: Db, tmp_path: Path, entity: str, content: str
) -> None:
    await seeded(db, tmp_path)
    report = await rejected_and_unchanged(db, entity, write(tmp_path / f"{entity}.csv", content))
    assert reasons(report) == [(3, "customer_id", "unknown customer_id 'C42'")]


@pytest.mark.parametrize(
    ("entity", "content", "expected"),
    [
        ("products", PRODUCTS_CSV + "SKU1,Oat milk 1l,Oatly,Oatly AB,Dairy alternatives\n",
         [(5, "sku", "duplicate of line 2")]),
        ("stores", "store_id\nS5\nS6\nS5\nS5\n",
         [(4, "store_id", "duplicate of line 2"), (5, "store_id", "duplicate of line 2")]),
        ("transactions", TX_HEADER + "T9,1,2024-03-06,SKU1,1,10,C1,S1\n"
         "T9,2,2024-03-06,SKU2,1,10,C1,S1\nT9,1,2024-03-06,SKU3,2,20,C1,S1\n",
         [(4, "transaction_id+line_ref", "duplicate of line 2")]),
        # E-mails are compared after normalisation: these two are one identifier.
        ("identifiers", "customer_id,id_type,id_value\nC1,email,Anna@Example.com\n"
         "C1,email, anna@example.COM \n",
         [(3, "customer_id+id_type+id_value", "duplicate of line 2")]),
        ("consents", "customer_id,purpose,status,recorded_at,source\n"
         "C1,email,granted,2024-01-01T00:00:00Z,web\nC1,email,granted,2024-01-01,app\n",
         [(3, "customer_id+purpose+recorded_at+status", "duplicate of line 2")]),
    ],
)  # fmt: skip
async def test_duplicate_rows_inside_a_file_name_the_first_line(
    db: Db,
    tmp_path: Path,
    entity: str,
    content: str,
    expected: list[tuple[int, str, str]],
) -> None:
    await seeded(db, tmp_path)
    report = await rejected_and_unchanged(
        db, entity, write(tmp_path / f"dup_{entity}.csv", content)
    )
    assert reasons(report) == expected


@pytest.mark.parametrize("name", ["empty.csv", "empty.ndjson", "empty.parquet"])
async def test_an_empty_file_is_rejected(db: Db, tmp_path: Path, name: str) -> None:
    await seeded(db, tmp_path)
    report = await rejected_and_unchanged(db, "transactions", write(tmp_path / name, b""))
    assert [(r.column, r.reason) for r in report.rejections] == [("file", "the file is empty")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("blank.csv", "\n\n", "the file has no header row"),
        ("blank.ndjson", "\n  \n", "the file has no records"),
    ],
)
async def test_a_file_of_blank_lines_is_rejected(
    db: Db, tmp_path: Path, name: str, content: str, reason: str
) -> None:
    await seeded(db, tmp_path)
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / name, content))
    assert [(r.column, r.reason) for r in report.rejections] == [("file", reason)]


async def test_a_header_only_file_loads_nothing_and_changes_nothing(db: Db, tmp_path: Path) -> None:
    """A header with no rows is a valid, empty load: nothing is deleted by absence."""
    await seeded(db, tmp_path)
    before = await db.snapshot(*DATA_TABLES)
    report = await db.load("transactions", write(tmp_path / "header.csv", TX_HEADER))
    assert (report.status, report.rows_read, report.rows_inserted) == ("loaded", 0, 0)
    assert await db.snapshot(*DATA_TABLES) == before


async def test_a_file_cut_off_mid_line_is_rejected(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + "T9,1,2024-03-06,SKU1,1,10,C1,S1\nT9,2,2024-03-06,SKU2,1,1"
    report = await rejected_and_unchanged(db, "transactions", write(tmp_path / "cut.csv", content))
    assert reasons(report) == [(3, "row", "has 6 of 8 columns (file cut off?)")]
    assert report.rows_read == 2


@pytest.mark.parametrize("cut", ['"Nine, the harbo', '"Nine, the harbo\n', '"Nine\nthe harbo\n'])
async def test_a_file_cut_off_inside_a_quoted_value_is_rejected(
    db: Db, tmp_path: Path, cut: str
) -> None:
    await seeded(db, tmp_path)
    content = 'store_id,name\nS8,"Eight"\nS9,' + cut
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "cut.csv", content))
    assert reasons(report) == [(3, "row", "ends inside a quoted value (file cut off?)")]


async def test_a_quote_left_open_mid_file_names_the_lines_it_swallowed(
    db: Db, tmp_path: Path
) -> None:
    """Arrow reads on from an open quote to the file's end: the rows after it vanish into
    one broken row, which names how many lines it took, and nothing loads."""
    await seeded(db, tmp_path)
    content = 'store_id,name\n"S8,Eight\nS9,Nine\nS10,Ten\n'
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "open.csv", content))
    assert reasons(report) == [(2, "row", "has 1 of 2 columns, over 3 lines (a quote left open?)")]


async def test_a_csv_with_bare_cr_line_ends_is_rejected_not_a_crash(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    report = await rejected_and_unchanged(
        db, "stores", write(tmp_path / "mac.csv", b"store_id,name\rS905,A\r")
    )
    assert reasons(report) == [
        (1, "file",
         "line endings are bare CR (old Mac style): save the file with LF or CRLF line ends"),
    ]  # fmt: skip


async def test_an_ndjson_file_cut_off_mid_line_is_rejected(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = '{"store_id": "S8", "name": "Eight"}\n{"store_id": "S9", "na'
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "cut.ndjson", content))
    assert reasons(report) == [
        (2, "row", "not valid JSON (Unterminated string starting at column 20);"
                   " the file ends on this line: cut off?"),
    ]  # fmt: skip
    assert (report.rows_read, report.rows_rejected) == (2, 1)


async def test_an_ndjson_file_names_every_bad_line_in_one_report(db: Db, tmp_path: Path) -> None:
    """Lines that are not JSON, a line from a second file joined on (its byte order mark)
    and the faults of the rows that did read: all in one report, nothing loaded."""
    await seeded(db, tmp_path)
    content = (
        '{"store_id": "S8", "name": "Eight"}\r\n'  # 1
        '{"store_id": "S9", "name": "Nine"\n'  # 2
        '{"name": "No id"}\r\n'  # 3
        '\ufeff{"store_id": "S10"}\n'  # 4
        '{"store_id": "S8"}\r'  # 5
        '"S11"\n'  # 6
    )
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "stores.ndjson", content))
    assert reasons(report) == [
        (2, "row", "not valid JSON (Expecting ',' delimiter at column 34)"),
        (3, "store_id", "a value is required"),
        (4, "row", "the line starts with a byte order mark (U+FEFF), which only the first"
                   " line may: were files joined together? remove it"),
        (5, "store_id", "duplicate of line 1"),
        (6, "row", "each line must be a JSON object"),
    ]  # fmt: skip
    assert (report.rows_read, report.rows_rejected) == (6, 5)


async def test_an_ndjson_file_with_no_object_on_any_line_is_rejected(
    db: Db, tmp_path: Path
) -> None:
    await seeded(db, tmp_path)
    content = '[{"store_id": "S8"},\n {"store_id": "S9"}]\n'
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "array.ndjson", content))
    assert reasons(report) == [
        (1, "file", "no line of the file is a JSON object (NDJSON holds one object per line);"
                    " the first says: not valid JSON (Expecting value at column 21)"),
    ]  # fmt: skip


async def test_csv_rows_are_named_by_the_line_an_editor_shows(db: Db, tmp_path: Path) -> None:
    """A value holding an old Mac line end (a lone CR) takes two lines in an editor."""
    await seeded(db, tmp_path)
    content = b'store_id,name\r\nS8,"Eight\rby the sea"\nS9,Nine\r\n,No id\n'
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "stores.csv", content))
    assert reasons(report) == [(5, "store_id", "a value is required")]


async def test_a_parquet_file_cut_off_is_rejected(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    whole = write_parquet(tmp_path / "whole.parquet", pa.table({"store_id": ["S8", "S9"]}))
    data = whole.read_bytes()
    path = write(tmp_path / "cut.parquet", data[: len(data) // 2])
    report = await rejected_and_unchanged(db, "stores", path)
    assert [r.column for r in report.rejections] == ["file"]
    assert report.rejections[0].reason.startswith("not a readable Parquet file")


async def test_a_row_with_too_many_columns_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = "store_id,name\nS8,Eight\nS9,Nine,extra\nS10,Ten\n"
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "wide.csv", content))
    assert reasons(report) == [(3, "row", "has 3 of 2 columns")]


async def test_a_value_longer_than_its_column_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    long_sku = "S" * 65
    content = f"store_id\nS8\n{long_sku}\n"
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "long.csv", content))
    assert reasons(report) == [
        (3, "store_id", f"longer than 64 characters (got {long_sku[:40]!r})")
    ]


async def test_a_blank_required_value_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = PRODUCTS_CSV + "SKU4,,Brand,Maker,Tea\n"
    report = await rejected_and_unchanged(db, "products", write(tmp_path / "blank.csv", content))
    assert reasons(report) == [(5, "name", "a value is required")]


async def test_a_blank_line_no_in_a_file_with_line_numbers_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + "T9,1,2024-03-06,SKU1,1,10,C1,S1\nT9,,2024-03-06,SKU2,1,10,C1,S1\n"
    report = await rejected_and_unchanged(db, "transactions", write(tmp_path / "nol.csv", content))
    assert reasons(report) == [
        (3, "line_no", "a value is required (the file has a line_no column)")
    ]


async def test_line_numbers_count_blank_lines(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = "store_id,name\n\nS8,Eight\n\n\nS9,\nS10,Ten\n" + "S" * 70 + ",x\n"
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "gaps.csv", content))
    assert [(r.line, r.column) for r in report.rejections] == [(8, "store_id")]
    # The blank lines are skipped, not loaded and not counted as rows.
    assert report.rows_read == 4


async def test_line_numbers_count_newlines_inside_quoted_values(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = 'store_id,name\nS8,"Eight\nsecond line"\nS9,Nine\n' + "S" * 70 + ",x\n"
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "multi.csv", content))
    assert [(r.line, r.column) for r in report.rejections] == [(5, "store_id")]


async def test_header_names_are_trimmed(db: Db, tmp_path: Path) -> None:
    path = write(
        tmp_path / "products.csv",
        "sku , name,brand,manufacturer, category ,  origin \n"
        "SKU1,Oat milk,Oatly,Oatly AB,Dairy,SE\n",
    )
    report = await db.load("products", path)
    assert (report.status, report.rows_inserted) == ("loaded", 1), report.rejections
    p = PRODUCTS.c
    assert await db.select(select(p.sku, p.name, p.category, p.attributes)) == [
        ("SKU1", "Oat milk", "Dairy", {"origin": "SE"})
    ]


async def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(
    db: Db, tmp_path: Path
) -> None:
    path = write(tmp_path / "stores.csv", "\ufeffstore_id,name\nS8,Åtta\n")
    report = await db.load("stores", path)
    assert (report.status, report.rows_inserted) == ("loaded", 1)
    assert await db.rows("SELECT store_id, name FROM stores") == [("S8", "Åtta")]


async def test_a_csv_joined_to_another_with_a_byte_order_mark_is_rejected(
    db: Db, tmp_path: Path
) -> None:
    """The second file's header was loaded as a store named "name", its id starting with
    an invisible U+FEFF: now the line is a rejected row, and nothing loads."""
    await seeded(db, tmp_path)
    content = "\ufeffstore_id,name\nS8,Eight\n\ufeffstore_id,name\nS9,Nine\n"
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "joined.csv", content))
    assert reasons(report) == [
        (3, "row", "the line starts with a byte order mark (U+FEFF), which only the first"
                   " line may: were files joined together? remove it"),
    ]  # fmt: skip
    assert (report.rows_read, report.rows_rejected) == (3, 1)


async def test_an_ndjson_row_giving_a_member_twice_is_rejected_with_its_line(
    db: Db, tmp_path: Path
) -> None:
    """json.loads keeps the last of the two: S919 was loaded where the row also said S918."""
    await seeded(db, tmp_path)
    content = '{"store_id": "S917", "name": "Fine"}\n{"store_id": "S918", "store_id": "S919"}\n'
    report = await rejected_and_unchanged(db, "stores", write(tmp_path / "twice.ndjson", content))
    assert reasons(report) == [
        (2, "row", "member /store_id given more than once; give each member of an object once")
    ]
    assert (report.rows_read, report.rows_rejected) == (2, 1)


async def test_an_ndjson_byte_order_mark_is_not_part_of_the_first_member(
    db: Db, tmp_path: Path
) -> None:
    path = write(tmp_path / "stores.ndjson", '\ufeff{"store_id": "S8", "name": "Åtta"}\n')
    report = await db.load("stores", path)
    assert (report.status, report.rows_inserted) == ("loaded", 1)
    assert await db.rows("SELECT store_id, name FROM stores") == [("S8", "Åtta")]


async def test_a_duplicated_header_column_is_rejected(db: Db, tmp_path: Path) -> None:
    report = await rejected_and_unchanged(
        db, "stores", write(tmp_path / "twice.csv", "store_id,name,name\nS8,a,b\n")
    )
    assert reasons(report) == [(1, "file", "the header names a column twice")]


async def test_unknown_entity_and_file_type_are_invalid_requests(db: Db, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="unknown entity 'coupons'"):
        await db.load("coupons", write(tmp_path / "c.csv", "x\n1\n"))
    with pytest.raises(InvalidRequestError, match=r"unknown file type '\.xlsx'"):
        await db.load("stores", write(tmp_path / "c.xlsx", "x\n1\n"))
    assert await db.count("ingest_runs") == 0


# -- size: streamed in bounded chunks ----------------------------------------------------------


def many_lines(count: int) -> str:
    return TX_HEADER + "".join(
        f"B{n // 3},{n % 3 + 1},2024-03-{n % 28 + 1:02d}T12:00:00Z,SKU{n % 3 + 1},"
        f"{n % 5},{n % 5 * 2.5:.2f},C{n % 3 + 1},S{n % 2 + 1}\n"
        for n in range(count)
    )


async def test_a_file_far_larger_than_its_chunk_is_streamed(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from endcap.ingest import service  # noqa: PLC0415  (to watch the chunks go by)

    seen: list[tuple[int, int]] = []
    real_chunks = service.chunks

    def watched(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for chunk in real_chunks(*args, **kwargs):  # type: ignore[arg-type]
            seen.append((chunk.table.num_rows, chunk.table.nbytes))
            yield chunk

    await seeded(db, tmp_path)
    monkeypatch.setattr(service, "chunks", watched)
    path = write(tmp_path / "big.csv", many_lines(3000))
    assert path.stat().st_size > 100 * 1024

    report = await db.load("transactions", path, make_settings(chunk_bytes=1024, chunk_rows=50))

    assert report.status == "loaded", report.rejections[:3]
    assert (report.rows_read, report.rows_inserted) == (3000, 3000)
    assert report.chunks == len(seen) > 100
    assert max(nbytes for _, nbytes in seen) < 8 * 1024  # never the whole file at once
    assert sum(rows for rows, _ in seen) == 3000
    assert await db.count("transactions") == 3003
    total = await db.scalar("SELECT sum(quantity) FROM transactions WHERE transaction_id LIKE 'B%'")
    assert total == sum(n % 5 for n in range(3000))


async def test_a_bad_row_deep_in_a_streamed_file_is_named_by_its_line(
    db: Db, tmp_path: Path
) -> None:
    await seeded(db, tmp_path)
    content = many_lines(3000).splitlines(keepends=True)
    content[2500] = content[2500].replace("2024-03-", "2024-3-")  # file line 2501
    content[2801] = "cut,off\n"  # file line 2802
    path = write(tmp_path / "big.csv", "".join(content))

    report = await rejected_and_unchanged(db, "transactions", path, chunk_bytes=1024)

    assert [(r.line, r.column) for r in report.rejections] == [
        (2501, "occurred_at"),
        (2802, "row"),
    ]
    assert report.chunks > 100
    assert report.rows_read == 3000


@pytest.mark.parametrize("file_format", ["parquet", "ndjson"])
async def test_parquet_and_ndjson_are_streamed_by_rows(
    db: Db, tmp_path: Path, file_format: str
) -> None:
    await seeded(db, tmp_path)
    lines = many_lines(2000).splitlines()
    header = lines[0].split(",")
    records = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    path = tmp_path / f"big.{file_format}"
    if file_format == "parquet":
        write_parquet(path, pa.Table.from_pylist(records), row_group_size=100)
    else:
        write_ndjson(path, records)

    report = await db.load("transactions", path, make_settings(chunk_rows=64))

    assert (report.status, report.rows_inserted) == ("loaded", 2000)
    assert report.chunks >= 2000 // 64
    assert await db.count("transactions") == 2003


# -- the report ------------------------------------------------------------------------------


async def test_the_rejection_list_is_capped_but_the_count_covers_all(
    db: Db, tmp_path: Path
) -> None:
    await seeded(db, tmp_path)
    content = TX_HEADER + "".join(
        f"R{n},1,2024-03-06,SKU1,{'x' if n % 2 else 1},10,C1,S1\n" for n in range(500)
    )
    report = await rejected_and_unchanged(
        db, "transactions", write(tmp_path / "many.csv", content), rejection_cap=7, chunk_bytes=1024
    )
    assert report.rows_rejected == 250
    assert [(r.line, r.column) for r in report.rejections] == [
        (n + 2, "quantity") for n in range(1, 15, 2)
    ]


async def test_the_duplicate_and_reference_lists_are_capped_too(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    content = "store_id\n" + "S5\n" * 20
    report = await rejected_and_unchanged(
        db, "stores", write(tmp_path / "dups.csv", content), rejection_cap=3
    )
    assert report.rows_rejected == 19
    assert reasons(report) == [(n, "store_id", "duplicate of line 2") for n in (3, 4, 5)]

    content = TX_HEADER + "".join(f"U{n},1,2024-03-06,SKU{n},1,10,,\n" for n in range(10, 30))
    report = await rejected_and_unchanged(
        db, "transactions", write(tmp_path / "refs.csv", content), rejection_cap=3
    )
    assert report.rows_rejected == 20
    assert [r.line for r in report.rejections] == [2, 3, 4]


async def test_every_load_is_recorded_with_its_counts(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    rows = await db.rows(
        "SELECT entity, status, rows_read, rows_inserted, rows_updated, rows_rejected "
        "FROM ingest_runs ORDER BY started_at"
    )
    assert rows == [
        ("products", "loaded", 3, 3, 0, 0),
        ("stores", "loaded", 2, 2, 0, 0),
        ("customers", "loaded", 3, 3, 0, 0),
        ("transactions", "loaded", 3, 3, 0, 0),
    ]


async def test_updated_at_moves_only_for_rows_that_changed(db: Db, tmp_path: Path) -> None:
    await db.seed_catalog(tmp_path)
    stamps = "SELECT sku, updated_at FROM products ORDER BY sku"
    before = dict(await db.select(select(PRODUCTS.c.sku, PRODUCTS.c.updated_at)))
    changed = PRODUCTS_CSV.replace("Crisp bread", "Crisp bread rye")
    report = await db.load("products", write(tmp_path / "products2.csv", changed))
    assert (report.rows_inserted, report.rows_updated) == (0, 1)
    after = dict(await db.select(select(PRODUCTS.c.sku, PRODUCTS.c.updated_at)))
    assert after["SKU1"] == before["SKU1"]
    assert after["SKU3"] == before["SKU3"]
    assert after["SKU2"] > before["SKU2"]
    assert len(await db.rows(stamps)) == 3


async def test_a_line_number_is_the_same_line_however_it_is_written(db: Db, tmp_path: Path) -> None:
    await db.seed_catalog(tmp_path)
    content = TX_HEADER + "T1,01,2024-03-01,SKU1,1,10,,\nT1,+2,2024-03-01,SKU2,1,10,,\n"
    report = await db.load("transactions", write(tmp_path / "tx.csv", content))
    assert (report.status, report.rows_inserted) == ("loaded", 2)
    assert await db.rows("SELECT line_ref FROM transactions ORDER BY 1") == [("1",), ("2",)]
    # The same lines from a system that writes plain integers.
    again = write_parquet(
        tmp_path / "tx.parquet",
        pa.table(
            {
                "transaction_id": ["T1", "T1"],
                "line_no": pa.array([1, 2], pa.int64()),
                "occurred_at": ["2024-03-01", "2024-03-01"],
                "sku": ["SKU1", "SKU2"],
                "quantity": [1, 1],
                "sales_value": [10, 10],
            }
        ),
    )
    report = await db.load("transactions", again)
    assert (report.status, report.rows_inserted, report.rows_updated) == ("loaded", 0, 0)
    # Duplicates are found after the spelling is made one.
    dup = write(
        tmp_path / "dup.csv",
        TX_HEADER + "T7,1,2024-03-01,SKU1,1,10,,\nT7,001,2024-03-01,SKU2,1,10,,\n",
    )
    report = await rejected_and_unchanged(db, "transactions", dup)
    assert reasons(report) == [(3, "transaction_id+line_ref", "duplicate of line 2")]


async def test_a_parquet_column_that_is_not_text_is_named(db: Db, tmp_path: Path) -> None:
    await seeded(db, tmp_path)
    path = write_parquet(
        tmp_path / "stores.parquet",
        pa.table({"store_id": ["S8", "S9"], "name": pa.array([b"ok", b"G\xf6ta"], pa.binary())}),
    )
    report = await rejected_and_unchanged(db, "stores", path)
    assert [(r.column, r.reason.split(" (")[0]) for r in report.rejections] == [
        ("file", "column 'name' cannot be read as text")
    ]


async def test_a_file_name_longer_than_its_column_is_cut_and_the_file_loads(
    db: Db, tmp_path: Path
) -> None:
    """A 400-character upload name failed the whole load on PostgreSQL (varchar(300))."""
    await seeded(db, tmp_path)
    path = write(tmp_path / "stores.csv", "store_id,name\nS77,Seventy-seven\n")
    name = "a" * 400 + ".csv"
    async with db.sessions() as session:
        report = await IngestService(session, make_settings()).load(
            "stores", path, source_name=name
        )
        await session.commit()
    assert (report.status, report.rows_inserted) == ("loaded", 1)
    assert len(report.source_name) == 300
    assert report.source_name.endswith("....csv")
    assert report.source_name.startswith("a" * 290)
