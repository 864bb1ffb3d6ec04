"""A day of purchases, then an incremental trait refresh, next to a full refresh of the same data.

Run from the repository root on a database that already holds a loaded synthetic retailer
with refreshed traits, such as one kept by ``tests.perf.bench_traits --keep-db`` (100k or
1M profiles)::

    .venv/bin/python -m tests.perf.bench_incremental --database URL [--days 1]

It copies the newest ``--days`` of purchase lines that many days forward (new transaction
ids, same shoppers and products: the shape of the next days' load), loads them through
``IngestService`` as ``endcap ingest`` does (timed, not the subject), and then, in this
process and each in its own committed transaction:

  incremental  ``TraitsService.refresh(mode="incremental")``: recomputes only the
               profiles the load marked stale and those whose purchases left a window;
               value models and clusters are refitted on everyone;
  full         ``TraitsService.refresh(mode="full")`` on the same data: the baseline.

It prints the seconds per step of each, the profiles recomputed, and the ratio. The machines
are small and noisy: read the ratio. The database is left with the added lines (drop it, or
run it again: each run adds another shifted copy).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from endcap.config import DatabaseSettings, Settings
from endcap.db.session import standalone_session
from endcap.ingest.service import IngestService
from endcap.traits.schemas import TraitsRefreshReport
from endcap.traits.service import RefreshMode, TraitsService

FIELDS = (
    "transaction_id", "line_no", "occurred_at", "sku", "quantity", "sales_value", "customer_id",
    "store_id", "channel", "discount",
)  # fmt: skip
NEWEST_LINES = text(
    "SELECT transaction_id, line_ref, occurred_at, sku, quantity, sales_value, customer_id,"
    " store_id, channel, discount FROM transactions"
    " WHERE occurred_at > (SELECT max(occurred_at) FROM transactions)"
    " - make_interval(days => :days)"
    " AND customer_id IS NOT NULL"
)


async def write_next_days(url: str, days: int, folder: Path) -> tuple[Path, int]:
    path = folder / "next_days.csv"
    async with standalone_session(DatabaseSettings(url=url)) as session:
        rows = [tuple(r) for r in (await session.execute(NEWEST_LINES, {"days": days}))]
    tag = f"INC{int(time.time())}"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(FIELDS)
        for tx, line, at, sku, qty, value, customer, store, channel, discount in rows:
            shifted = (at + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
            number = line if str(line).isdigit() else ""
            original = str(tx).rsplit("-", 1)[-1]  # a line copied by an earlier run, too
            row = [f"{tag}-{original}", number, shifted, sku, qty, value, customer, store, channel]
            writer.writerow([*row, discount])
    return path, len(rows)


async def refresh(url: str, mode: RefreshMode) -> tuple[TraitsRefreshReport, float]:
    async with standalone_session(DatabaseSettings(url=url)) as session:
        started = time.perf_counter()
        report = await TraitsService(session).refresh(mode=mode)
        await session.commit()
        return report, time.perf_counter() - started


def show(name: str, report: TraitsRefreshReport, seconds: float) -> None:
    steps = ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items())
    print(
        f"  {name:<12} {seconds:7.1f} s  ({report.mode}; recomputed {report.recomputed:,} of "
        f"{report.profiles:,} profiles; steps {steps})"
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = args.database.replace("postgresql://", "postgresql+asyncpg://", 1)
    with tempfile.TemporaryDirectory() as scratch:
        path, lines = await write_next_days(url, args.days, Path(scratch))
        settings = Settings()
        settings.database = DatabaseSettings(url=url)
        started = time.perf_counter()
        async with standalone_session(settings.database) as session:
            loaded = await IngestService(session, settings).load("transactions", path)
        print(
            f"  loaded {lines:,} lines in {time.perf_counter() - started:.1f} s ({loaded.status})"
        )
    incremental, inc_seconds = await refresh(url, RefreshMode.INCREMENTAL)
    show("incremental", incremental, inc_seconds)
    full, full_seconds = await refresh(url, RefreshMode.FULL)
    show("full", full, full_seconds)
    print(f"  ratio full / incremental: {full_seconds / inc_seconds:.1f}x")
    return {"incremental": inc_seconds, "full": full_seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", required=True, help="a database with refreshed traits")
    parser.add_argument("--days", type=int, default=1, help="days of newest purchases to copy")
    args = parser.parse_args(argv)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
