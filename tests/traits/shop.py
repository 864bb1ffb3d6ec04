"""A synthetic retailer's files cut up as the incremental-refresh tests load them."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.ingest.service import IngestService

LAST_DAYS = 3


def split_history(transactions: Path, folder: Path) -> tuple[Path, Path, int]:
    """History up to the last days, and a later file: the last days, 25 late lines from
    months back, and one earlier line again with a corrected value."""
    with transactions.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    newest = max(datetime.fromisoformat(r["occurred_at"]) for r in rows)
    cut = newest - timedelta(days=LAST_DAYS)
    early = [r for r in rows if datetime.fromisoformat(r["occurred_at"]) <= cut]
    late = [r for r in rows if datetime.fromisoformat(r["occurred_at"]) > cut]
    known = [r for r in early if r["customer_id"]]
    arriving_late = known[1000:1025]  # lines from months ago that only arrive now
    corrected = {**known[2000], "sales_value": "999.99"}
    history = [r for r in early if r not in arriving_late]
    paths = (folder / "history.csv", folder / "later.csv")
    for path, part in zip(paths, (history, [*late, *arriving_late, corrected]), strict=True):
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part)
    return paths[0], paths[1], len(late)


def customer_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [row["customer_id"] for row in csv.DictReader(handle)]


async def own_the_purchases(session: AsyncSession) -> None:
    """This test's purchases only (the session's changes roll back afterwards)."""
    for statement in (
        "DELETE FROM transactions",
        "DELETE FROM profile_spend",
        "DELETE FROM profile_traits",
        "DELETE FROM stale_profiles",
        "DELETE FROM trait_refreshes",
    ):
        await session.execute(text(statement))


async def merge_two_shoppers(ingest: IngestService, customers: Path, folder: Path) -> None:
    """Two shoppers turn out to be one person: a new shared e-mail merges their records."""
    pair = customer_ids(customers)[5:7]
    link = folder / "link.csv"
    link.write_text(
        "customer_id,id_type,id_value\n"
        + "".join(f"{c},email,merged.person@example.com\n" for c in pair),
        encoding="utf-8",
    )
    assert (await ingest.load("identifiers", link)).status == "loaded"
