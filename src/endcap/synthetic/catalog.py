"""The product catalogue: SKUs (EAN-13), names, brands, manufacturers, the category
tree, pack sizes, shelf prices and a Zipf-like popularity.

SKUs are laid out department by department, so the SKUs of one department
occupy one contiguous slice of the popularity CDF; the basket generator uses
that to draw "a popular SKU from department d" with one ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from endcap.synthetic.arrays import BoolArray, FloatArray, IntArray, cdf_of, scramble
from endcap.synthetic.brands import MANUFACTURERS, PRIVATE_LABEL_BRANDS, RETAILER_NAME
from endcap.synthetic.taxonomy import CATEGORIES, DEPARTMENTS, VARIANTS, CategorySpec

ZIPF_EXPONENT = 1.0
PRIVATE_LABEL_SHARE = 0.22  # of the SKUs in a category where private label competes
PRIVATE_LABEL_POPULARITY = 1.6  # private label sells above its share of shelf space

PRODUCT_COLUMNS = (
    "sku", "name", "brand", "manufacturer", "category", "department", "subcategory",
    "private_label", "package_size",
)  # fmt: skip


def sku_count(profiles: int) -> int:
    """Thousands of SKUs: 2,000 for small bases, growing to 20,000 at 1M profiles."""
    return int(np.clip(round(2000 * (max(profiles, 1) / 10_000) ** 0.5), 2000, 20_000))


@dataclass(frozen=True)
class Catalog:
    table: pa.Table
    sku: pa.Array  # the SKU strings, indexed like every array below
    unit_cents: IntArray  # shelf price (per kg for weight items)
    by_weight: BoolArray
    department: IntArray  # index into DEPARTMENTS
    popularity: FloatArray  # normalised weights
    cdf: FloatArray  # cumulative popularity
    department_cdf: FloatArray  # (departments, 2): the CDF range each department covers

    @property
    def size(self) -> int:
        return int(self.unit_cents.shape[0])


def _ean13(body12: list[str]) -> list[str]:
    out = []
    for b in body12:
        total = sum(int(ch) * (3 if i % 2 else 1) for i, ch in enumerate(b))
        out.append(f"{b}{(10 - total % 10) % 10}")
    return out


def _price_cents(raw: FloatArray) -> IntArray:
    """Shelf prices end in .90 (or .50 for cheap items), as Swedish tills show them."""
    cheap = raw < 10
    cents: IntArray = np.where(
        cheap,
        np.maximum(np.round(raw * 2) * 50 - 10, 190),
        np.round(raw) * 100 - 10,
    ).astype(np.int64)
    return cents


def _makers_by_category() -> dict[str, list[tuple[int, int]]]:
    """category -> [(manufacturer index, position of the category in its list)]."""
    out: dict[str, list[tuple[int, int]]] = {c.name: [] for c in CATEGORIES}
    for m, maker in enumerate(MANUFACTURERS):
        for pos, cat in enumerate(maker.categories):
            if cat not in out:
                raise ValueError(f"{maker.name}: unknown category {cat!r}")
            out[cat].append((m, pos))
    for cat, makers in out.items():
        if not makers:
            raise ValueError(f"no manufacturer sells {cat!r}")
    return out


def _category_sizes(n_sku: int) -> list[int]:
    """SKUs per category in proportion to traffic (at least three per subcategory),
    summing to exactly ``n_sku`` (largest remainders get the leftovers)."""
    traffic = np.array([c.traffic for c in CATEGORIES])
    ideal = traffic / traffic.sum() * n_sku
    floor = np.array([3 * len(c.subcategories) for c in CATEGORIES])
    sizes = np.maximum(floor, np.floor(ideal)).astype(np.int64)
    short = n_sku - int(sizes.sum())
    if short > 0:
        sizes[np.argsort(-(ideal - np.floor(ideal)), kind="stable")[:short]] += 1
    return [int(v) for v in sizes]


def build_catalog(rng: np.random.Generator, profiles: int) -> Catalog:
    makers_of = _makers_by_category()
    maker_size = rng.lognormal(0.0, 0.7, len(MANUFACTURERS))  # some manufacturers are big
    item_counter = rng.integers(100, 5000, len(MANUFACTURERS) + 1)
    company = scramble(np.arange(len(MANUFACTURERS) + 1), 100_000, int(rng.integers(100_000)))
    cols: dict[str, list[object]] = {c: [] for c in PRODUCT_COLUMNS}
    bodies: list[str] = []
    raw_price: list[float] = []
    weight_flags: list[bool] = []
    dept_idx: list[int] = []
    for spec, n in zip(CATEGORIES, _category_sizes(sku_count(profiles)), strict=True):
        makers = makers_of[spec.name]
        w = np.array([maker_size[m] for m, _ in makers])
        chosen = rng.choice(len(makers), size=n, p=w / w.sum())
        is_pl = spec.private_label & (rng.random(n) < PRIVATE_LABEL_SHARE)
        level = np.exp(rng.uniform(np.log(spec.price[0]), np.log(spec.price[1]), n))
        for i in range(n):
            sub = spec.subcategories[i % len(spec.subcategories)]
            if is_pl[i]:
                brand, factor = PRIVATE_LABEL_BRANDS[int(rng.integers(len(PRIVATE_LABEL_BRANDS)))]
                maker_name, m_idx = RETAILER_NAME, len(MANUFACTURERS)
            else:
                m_idx, pos = makers[int(chosen[i])]
                maker = MANUFACTURERS[m_idx]
                many = len(maker.categories) >= 3 and rng.random() < 0.85
                brand = maker.brands[pos % 3 if many else int(rng.integers(3))]
                maker_name, factor = maker.name, 1.0
            _add_product(cols, spec, sub, brand, maker_name, bool(is_pl[i]), rng)
            item_counter[m_idx] += 1
            bodies.append(f"73{int(company[m_idx]):05d}{int(item_counter[m_idx]) % 100_000:05d}")
            raw_price.append(float(level[i]) * factor)
            weight_flags.append(spec.by_weight)
            dept_idx.append(DEPARTMENTS.index(spec.department))
    cols["sku"] = list(_ean13(bodies))
    if len(set(cols["sku"])) != len(bodies):
        raise RuntimeError("duplicate SKU generated")
    department = np.array(dept_idx, dtype=np.int64)
    if np.any(np.diff(department) < 0):
        raise RuntimeError("categories must be listed department by department")
    popularity = _popularity(rng, np.array(cols["private_label"], dtype=bool))
    cdf = cdf_of(popularity)
    first = np.searchsorted(department, np.arange(len(DEPARTMENTS)), side="left")
    last = np.searchsorted(department, np.arange(len(DEPARTMENTS)), side="right")
    lower = np.concatenate([[0.0], cdf])[first]
    table = pa.table(
        {
            c: pa.array(v, type=pa.bool_() if c == "private_label" else pa.string())
            for c, v in cols.items()
        }
    )
    return Catalog(
        table=table,
        sku=table.column("sku").combine_chunks(),
        unit_cents=_price_cents(np.array(raw_price)),
        by_weight=np.array(weight_flags, dtype=bool),
        department=department,
        popularity=popularity,
        cdf=cdf,
        department_cdf=np.stack([lower, cdf[last - 1]], axis=1),
    )


def _add_product(
    cols: dict[str, list[object]],
    spec: CategorySpec,
    sub: str,
    brand: str,
    maker: str,
    private_label: bool,
    rng: np.random.Generator,
) -> None:
    variants = VARIANTS[spec.department]
    variant = variants[int(rng.integers(len(variants)))]
    size = spec.sizes[int(rng.integers(len(spec.sizes)))]
    name = f"{brand} {sub} {variant}" if spec.by_weight else f"{brand} {sub} {variant} {size}"
    cols["name"].append(name)
    cols["brand"].append(brand)
    cols["manufacturer"].append(maker)
    cols["category"].append(spec.name)
    cols["department"].append(spec.department)
    cols["subcategory"].append(sub)
    cols["private_label"].append(private_label)
    cols["package_size"].append(size)


def _popularity(rng: np.random.Generator, private_label: BoolArray) -> FloatArray:
    """Zipf over a random ranking of the SKUs, private label nudged up."""
    n = private_label.shape[0]
    rank = rng.permutation(n)
    w: FloatArray = (rank + 1.0) ** -ZIPF_EXPONENT
    w = np.where(private_label, w * PRIVATE_LABEL_POPULARITY, w)
    w /= w.sum()
    return w
