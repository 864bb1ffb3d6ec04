"""``generate()``: write a synthetic retailer's files, one per entity of the
retailer data contract (products, stores, customers, identifiers, consents,
transactions), deterministically from a seed.

People are generated in blocks (see ``world.block_people``); each block's
customers, identifiers, consents and transactions are written before the
next block is drawn, so memory stays bounded for any number of profiles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from endcap.synthetic.baskets import TRANSACTION_COLUMNS, transactions_table
from endcap.synthetic.catalog import PRODUCT_COLUMNS
from endcap.synthetic.consents import CONSENT_COLUMNS, consents_table
from endcap.synthetic.customers import CUSTOMER_COLUMNS, build_records, customers_table
from endcap.synthetic.identifiers import IDENTIFIER_COLUMNS, identifiers_table
from endcap.synthetic.people import draw_people
from endcap.synthetic.stores import STORE_COLUMNS
from endcap.synthetic.world import BASKETS, PEOPLE, World, build_world, stream
from endcap.synthetic.writer import FORMATS, Format, TableWriter

Progress = Callable[[str, int, int], None]
"""``progress(file_name, done, total)``: rows for products and stores; profiles
for the per-customer files, which advance block by block."""

PER_CUSTOMER = ("customers", "identifiers", "consents", "transactions")
ENTITY_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "products": PRODUCT_COLUMNS,
    "stores": STORE_COLUMNS,
    "customers": CUSTOMER_COLUMNS,
    "identifiers": IDENTIFIER_COLUMNS,
    "consents": CONSENT_COLUMNS,
    "transactions": TRANSACTION_COLUMNS,
}


@dataclass(frozen=True)
class FileSummary:
    entity: str
    path: Path
    rows: int
    bytes: int


@dataclass(frozen=True)
class GenerationSummary:
    outdir: Path
    fmt: Format
    profiles: int
    seed: int
    weeks: int
    lines_per_profile_year: float
    files: tuple[FileSummary, ...]
    seconds: float

    @property
    def rows(self) -> dict[str, int]:
        return {f.entity: f.rows for f in self.files}

    @property
    def paths(self) -> dict[str, Path]:
        return {f.entity: f.path for f in self.files}

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)


def _quiet(_name: str, _done: int, _total: int) -> None:
    return None


def _block(
    world: World, block: int, start: int, n: int, first_record: int, first_basket: int
) -> tuple[dict[str, pa.Table], int, int]:
    """The per-customer tables of one block of people, and the record and basket
    numbers it used (the next block continues from there)."""
    rng = stream(world.seed, PEOPLE, block)
    people = draw_people(rng, start, n, world.profiles, world.period, world.stores, world.rates)
    records = build_records(rng, people, first_record, world.period, world.salts.customer)
    tables = {
        "customers": customers_table(rng, people, records, world.stores),
        "identifiers": identifiers_table(
            rng, people, records, world.period, world.iso, world.shared, world.salts
        ),
        "consents": consents_table(rng, people, records, world.period, world.iso),
    }
    lines, baskets = transactions_table(
        stream(world.seed, BASKETS, block), world, people, records, first_basket
    )
    tables["transactions"] = lines
    return tables, records.size, baskets


def _write_all(writers: Mapping[str, TableWriter], tables: Mapping[str, pa.Table]) -> None:
    for entity, table in tables.items():
        writers[entity].write(table)


def generate(
    outdir: Path,
    profiles: int,
    seed: int,
    *,
    fmt: Format = "csv",
    weeks: int = 52,
    lines_per_profile_year: float = 30.0,
    progress: Progress | None = None,
) -> GenerationSummary:
    """Write the six entity files for ``profiles`` people into ``outdir``.

    The same ``(profiles, seed, fmt, weeks, lines_per_profile_year)`` always
    gives byte-identical files. ``profiles`` counts people; the customer file
    holds more records than that, since some people have several.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if seed < 0:
        raise ValueError("seed must be zero or positive")
    report = progress or _quiet
    started = time.perf_counter()
    world = build_world(profiles, seed, weeks, lines_per_profile_year)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {e: outdir / f"{e}.{fmt}" for e in ENTITY_COLUMNS}
    writers = {e: TableWriter(paths[e], fmt, cols) for e, cols in ENTITY_COLUMNS.items()}
    try:
        for entity, table in (("products", world.catalog.table), ("stores", world.stores.table)):
            report(paths[entity].name, 0, table.num_rows)
            writers[entity].write(table)
            writers[entity].close()
            report(paths[entity].name, table.num_rows, table.num_rows)
        for entity in PER_CUSTOMER:
            report(paths[entity].name, 0, profiles)
        # One writer thread: block b is written while block b + 1 is generated (Arrow
        # and most of NumPy release the GIL). Jobs run in submission order, so the
        # files are the same as a sequential run; at most two blocks are in memory.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="endcap-writer") as pool:
            pending: Future[None] | None = None
            done_profiles = next_record = next_basket = 0
            for block, start in enumerate(range(0, profiles, world.block_people)):
                n = min(world.block_people, profiles - start)
                tables, records, baskets = _block(world, block, start, n, next_record, next_basket)
                next_record += records
                next_basket += baskets
                if pending is not None:
                    pending.result()
                    for entity in PER_CUSTOMER:
                        report(paths[entity].name, done_profiles, profiles)
                pending = pool.submit(_write_all, writers, tables)
                done_profiles = start + n
            if pending is not None:
                pending.result()
                for entity in PER_CUSTOMER:
                    report(paths[entity].name, done_profiles, profiles)
    finally:
        for writer in writers.values():
            writer.close()
    files = tuple(
        FileSummary(e, paths[e], writers[e].rows, paths[e].stat().st_size) for e in ENTITY_COLUMNS
    )
    return GenerationSummary(
        outdir=outdir,
        fmt=fmt,
        profiles=profiles,
        seed=seed,
        weeks=weeks,
        lines_per_profile_year=lines_per_profile_year,
        files=files,
        seconds=time.perf_counter() - started,
    )
