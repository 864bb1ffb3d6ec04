"""The synthetic retailer: determinism, the data contract, and the statistical
shape the rest of Endcap relies on (key chains, popularity, consents, promos)."""

from __future__ import annotations

import collections
import hashlib
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest

from endcap.synthetic import GenerationSummary, generate, world
from endcap.synthetic.consents import OPT_IN_RATES
from endcap.synthetic.taxonomy import DEPARTMENTS

PROFILES = 2000
SEED = 11
CONTRACT = {
    "products": ("sku", "name", "brand", "manufacturer", "category", "department",
                 "subcategory", "private_label", "package_size"),
    "stores": ("store_id", "name", "region", "format"),
    "customers": ("customer_id", "age_band", "household_size", "postal_code", "loyalty_tier"),
    "identifiers": ("customer_id", "id_type", "id_value", "observed_at"),
    "transactions": ("transaction_id", "line_no", "occurred_at", "sku", "quantity",
                     "sales_value", "customer_id", "store_id", "channel", "discount"),
    "consents": ("customer_id", "purpose", "status", "recorded_at", "source"),
}  # fmt: skip
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _read_csv(path: Path) -> pa.Table:
    """Every column as text (as an ingest would see it), blanks as nulls."""
    with path.open() as f:
        names = f.readline().strip().split(",")
    options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
    )
    return pa_csv.read_csv(path, convert_options=options)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    return generate(tmp_path_factory.mktemp("csv"), PROFILES, SEED)


@pytest.fixture(scope="module")
def tables(run: GenerationSummary) -> dict[str, pa.Table]:
    return {entity: _read_csv(path) for entity, path in run.paths.items()}


def _digests(summary: GenerationSummary) -> dict[str, str]:
    return {e: hashlib.sha256(p.read_bytes()).hexdigest() for e, p in summary.paths.items()}


def test_same_arguments_give_byte_identical_files(run: GenerationSummary, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", PROFILES, SEED)
    assert _digests(again) == _digests(run)
    other = generate(tmp_path / "other", PROFILES, SEED + 1)
    assert _digests(other)["transactions"] != _digests(run)["transactions"]


def test_files_have_exactly_the_contract_columns(run: GenerationSummary) -> None:
    assert set(run.paths) == set(CONTRACT)
    for entity, columns in CONTRACT.items():
        assert run.paths[entity].name == f"{entity}.csv"
        header = run.paths[entity].read_text().split("\n", 1)[0]
        assert tuple(header.split(",")) == columns
    assert run.rows["customers"] > PROFILES  # some people have several records


def test_referential_integrity(tables: dict[str, pa.Table]) -> None:
    skus = set(tables["products"]["sku"].to_pylist())
    customers = set(tables["customers"]["customer_id"].to_pylist())
    stores = set(tables["stores"]["store_id"].to_pylist())
    tx = tables["transactions"]
    assert len(skus) == tables["products"].num_rows
    assert len(customers) == tables["customers"].num_rows
    assert set(pc.unique(tx["sku"]).to_pylist()) <= skus
    assert set(pc.unique(pc.drop_null(tx["customer_id"])).to_pylist()) <= customers
    assert set(pc.unique(tx["store_id"]).to_pylist()) <= stores
    assert set(tables["identifiers"]["customer_id"].to_pylist()) <= customers
    assert set(tables["consents"]["customer_id"].to_pylist()) <= customers
    keys = pc.binary_join_element_wise(tx["transaction_id"], tx["line_no"], "#")
    assert pc.count_distinct(keys).as_py() == tx.num_rows


def test_catalogue_tree_brands_and_private_label(tables: dict[str, pa.Table]) -> None:
    products = tables["products"]
    assert 2000 <= products.num_rows <= 20_000
    departments = set(products["department"].to_pylist())
    assert {"Pharmacy", "Baby", "Alcohol"} <= departments
    assert len(departments) >= 8
    assert pc.count_distinct(products["category"]).as_py() >= 40
    assert pc.count_distinct(products["subcategory"]).as_py() >= 150
    assert pc.count_distinct(products["manufacturer"]).as_py() >= 35
    assert pc.count_distinct(products["brand"]).as_py() >= 100
    own = products.filter(pc.equal(products["private_label"], "true"))
    assert set(own["manufacturer"].to_pylist()) == {"Endcap Market"}
    assert pc.count_distinct(own["category"]).as_py() >= 40
    assert set(products["private_label"].to_pylist()) == {"true", "false"}
    for sku in products["sku"].to_pylist():  # EAN-13 with a valid check digit
        digits = [int(c) for c in sku]
        assert len(digits) == 13
        assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
    stores = tables["stores"]
    assert stores.num_rows == 5
    assert stores["format"].to_pylist().count("online") == 1


def test_lines_per_profile_follow_the_request(run: GenerationSummary, tmp_path: Path) -> None:
    assert run.rows["transactions"] / PROFILES == pytest.approx(30, rel=0.1)
    half = generate(tmp_path / "half", PROFILES, SEED, weeks=26, lines_per_profile_year=60)
    assert half.rows["transactions"] / PROFILES == pytest.approx(30, rel=0.1)
    sparse = generate(tmp_path / "sparse", PROFILES, SEED, lines_per_profile_year=10)
    assert sparse.rows["transactions"] / PROFILES == pytest.approx(10, rel=0.15)


def test_sku_popularity_is_power_law(tables: dict[str, pa.Table]) -> None:
    tx, n_sku = tables["transactions"], tables["products"].num_rows
    counts = np.sort(pc.value_counts(tx["sku"]).field("counts").to_numpy())[::-1]
    top_share = counts[: n_sku // 100].sum() / tx.num_rows
    assert top_share > 0.25  # the top 1% of SKUs carry over a quarter of all lines
    assert counts[: n_sku // 10].sum() / tx.num_rows > 0.55


def test_transaction_values(tables: dict[str, pa.Table], run: GenerationSummary) -> None:
    tx = tables["transactions"]
    sales = tx["sales_value"].cast(pa.float64()).to_numpy()
    discount = tx["discount"].cast(pa.float64()).to_numpy()
    quantity = tx["quantity"].cast(pa.float64()).to_numpy()
    assert re.fullmatch(r"\d+\.\d\d", tx["sales_value"][0].as_py())
    assert (discount >= 0).all()
    assert (discount <= sales).all()
    assert 0.0005 < (sales == 0).mean() < 0.005  # a few free lines
    assert 0.1 < (discount > 0).mean() < 0.4
    whole = quantity == np.round(quantity)
    assert 0.8 < whole.mean() < 0.98  # mostly units, some weighed items in kg
    assert (quantity[whole] >= 1).all()
    assert (quantity > 0).all()
    on_promo = discount > 0
    assert quantity[on_promo & whole].mean() > 1.3 * quantity[~on_promo & whole].mean()
    times = pc.unique(tx["occurred_at"]).to_pylist()
    assert all(ISO_UTC.match(t) for t in times)
    assert min(times) >= "2024-12-30"
    assert max(times) < "2025-12-29"
    baskets = tx.filter(pc.equal(tx["line_no"], "1"))
    anonymous = pc.sum(pc.is_null(baskets["customer_id"])).as_py() / baskets.num_rows
    assert anonymous == pytest.approx(0.2, abs=0.03)
    online = baskets.filter(pc.equal(baskets["channel"], "online"))
    assert online.num_rows / baskets.num_rows == pytest.approx(0.15, abs=0.04)
    assert set(online["store_id"].to_pylist()) == {"S0001"}


def test_promoted_sku_weeks_sell_more(tables: dict[str, pa.Table]) -> None:
    calendar = world.build_world(PROFILES, SEED, 52, 30.0)
    tx = tables["transactions"]
    sku = pc.index_in(tx["sku"], value_set=calendar.catalog.sku).to_numpy()
    at = pc.strptime(tx["occurred_at"], format="%Y-%m-%dT%H:%M:%SZ", unit="s", error_is_null=False)
    week = calendar.period.week_of(at.cast(pa.int64()).to_numpy())
    lines = np.zeros((52, calendar.catalog.size))
    np.add.at(lines, (week, sku), 1)
    promo = (calendar.promotions.depth > 0) | calendar.promotions.multibuy
    promoted = promo.any(axis=0)
    off_promo = lines[:, promoted][~promo[:, promoted]]
    assert lines[promo].mean() > 3 * off_promo.mean()  # same SKUs, promoted weeks vs others
    never = [DEPARTMENTS.index("Pharmacy"), DEPARTMENTS.index("Alcohol")]
    assert not promo[:, np.isin(calendar.catalog.department, never)].any()


def test_customers_repeat_favourites_and_some_lapse(tables: dict[str, pa.Table]) -> None:
    tx = tables["transactions"].filter(pc.is_valid(tables["transactions"]["customer_id"]))
    seen: dict[str, set[str]] = collections.defaultdict(set)
    repeats = 0
    for customer, sku in zip(tx["customer_id"].to_pylist(), tx["sku"].to_pylist(), strict=True):
        repeats += sku in seen[customer]
        seen[customer].add(sku)
    assert repeats / tx.num_rows > 0.3
    first: dict[str, int] = collections.Counter()
    second: dict[str, int] = collections.Counter()
    for customer, at in zip(
        tx["customer_id"].to_pylist(), tx["occurred_at"].to_pylist(), strict=True
    ):
        (first if at < "2025-07-01" else second)[customer] += 1
    regulars = [c for c, n in first.items() if n >= 6]
    gone = sum(1 for c in regulars if second[c] == 0) / len(regulars)
    assert gone > 0.05  # lapsed customers stop buying part-way through


def _normalised(id_type: str, value: str) -> str:
    if id_type == "email":
        return value.strip().lower()
    if id_type == "phone":
        digits = re.sub(r"\D", "", value)
        national = digits.removeprefix("0046").removeprefix("46").removeprefix("0")
        return "+46" + national
    return value


def test_key_chains_merge_people_and_shared_ids_are_wide(
    tables: dict[str, pa.Table],
) -> None:
    ids = tables["identifiers"]
    assert ids.num_rows / tables["customers"].num_rows == pytest.approx(3.0, abs=0.4)
    assert set(ids["id_type"].to_pylist()) == {
        "loyalty_card",
        "email",
        "phone",
        "account",
        "device",
    }
    groups: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    raw: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    rows = zip(*(ids[c].to_pylist() for c in ("customer_id", "id_type", "id_value")), strict=True)
    for customer, id_type, value in rows:
        groups[(id_type, _normalised(id_type, value))].add(customer)
        raw[(id_type, value)].add(customer)
    shared = [key for key, members in groups.items() if len(members) > 20]
    assert sum(1 for t, _ in shared if t == "loyalty_card") >= 3  # house cards
    assert sum(1 for t, _ in shared if t == "email") >= 2  # family / placeholder e-mails
    links = [m for m in groups.values() if 2 <= len(m) <= 20]
    assert len([m for m in raw.values() if 2 <= len(m) <= 20]) < 0.8 * len(links)
    parent = {c: c for c in tables["customers"]["customer_id"].to_pylist()}

    def root(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for members in links:
        first, *rest = members
        for other in rest:
            parent[root(other)] = root(first)
    sizes = collections.Counter(collections.Counter(root(c) for c in parent).values())
    assert sum(sizes.values()) == PROFILES  # resolving the key chains recovers every person
    multi = sum(n for size, n in sizes.items() if size > 1) / PROFILES
    assert 0.10 <= multi <= 0.15
    assert sizes[3] > 0


def test_phones_are_swedish_mobiles_in_mixed_formats(tables: dict[str, pa.Table]) -> None:
    phonenumbers = pytest.importorskip("phonenumbers")
    ids = tables["identifiers"]
    phones = ids.filter(pc.equal(ids["id_type"], "phone"))["id_value"].to_pylist()
    formats = {re.sub(r"\d", "9", p) for p in phones}
    assert len(formats) >= 6
    for value in phones[:500]:
        parsed = phonenumbers.parse(value, "SE")
        assert phonenumbers.is_valid_number(parsed)
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        assert e164 == _normalised("phone", value)
    emails = ids.filter(pc.equal(ids["id_type"], "email"))["id_value"].to_pylist()
    assert any(e != e.strip() for e in emails)
    assert any(e.strip() != e.strip().lower() for e in emails)


def test_consent_rates_and_withdrawals(tables: dict[str, pa.Table]) -> None:
    consents, n_customers = tables["consents"], tables["customers"].num_rows
    granted: dict[str, set[str]] = collections.defaultdict(set)
    history: dict[tuple[str, str], list[tuple[str, str]]] = collections.defaultdict(list)
    cols = ("customer_id", "purpose", "status", "recorded_at")
    for customer, purpose, status, at in zip(*(consents[c].to_pylist() for c in cols), strict=True):
        history[(customer, purpose)].append((status, at))
        if status == "granted":
            granted[purpose].add(customer)
    for purpose, rate in OPT_IN_RATES.items():
        assert len(granted[purpose]) / n_customers == pytest.approx(rate, abs=0.03)
    withdrawn = [h for h in history.values() if len(h) == 2]
    assert 0.02 < len(withdrawn) / len(history) < 0.06
    for (s1, t1), (s2, t2) in withdrawn:
        assert (s1, s2) == ("granted", "withdrawn")
        assert t2 > t1
    assert all(len(h) <= 2 for h in history.values())


def test_parquet_and_ndjson_hold_the_same_data(run: GenerationSummary, tmp_path: Path) -> None:
    parquet = generate(tmp_path / "pq", PROFILES, SEED, fmt="parquet")
    ndjson = generate(tmp_path / "nd", PROFILES, SEED, fmt="ndjson")
    assert _digests(generate(tmp_path / "pq2", PROFILES, SEED, fmt="parquet")) == _digests(parquet)
    assert _digests(generate(tmp_path / "nd2", PROFILES, SEED, fmt="ndjson")) == _digests(ndjson)
    assert parquet.rows == ndjson.rows == run.rows
    for entity, columns in CONTRACT.items():
        a = pq.read_table(parquet.paths[entity])
        b = pa_json.read_json(ndjson.paths[entity])
        assert parquet.paths[entity].suffix == ".parquet"
        assert ndjson.paths[entity].suffix == ".ndjson"
        assert tuple(a.column_names) == tuple(b.column_names) == columns
        assert a.column(0).to_pylist() == b.column(0).to_pylist()
    a, b = pq.read_table(parquet.paths["transactions"]), _read_csv(run.paths["transactions"])
    total = pc.sum(a["sales_value"]).as_py()
    assert float(total) == pytest.approx(pc.sum(b["sales_value"].cast(pa.float64())).as_py())
    assert pc.sum(pc.is_null(a["customer_id"])).as_py() > 0  # anonymous lines stay null


def test_many_blocks_keep_ids_unique(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world, "LINES_PER_BLOCK", 20_000)  # 1,000 people per block
    summary = generate(tmp_path, 3500, SEED)
    tx = _read_csv(summary.paths["transactions"])
    customers = _read_csv(summary.paths["customers"])
    assert pc.count_distinct(customers["customer_id"]).as_py() == customers.num_rows
    keys = pc.binary_join_element_wise(tx["transaction_id"], tx["line_no"], "#")
    assert pc.count_distinct(keys).as_py() == tx.num_rows
    assert set(pc.unique(pc.drop_null(tx["customer_id"])).to_pylist()) <= set(
        customers["customer_id"].to_pylist()
    )
