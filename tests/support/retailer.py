"""A tiny retailer written as contract files and loaded through the real loaders."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings
from endcap.identity.repository import IdentityRepository
from endcap.ingest.service import IngestService
from endcap.privacy.channels import CHANNEL_PURPOSE

# The consent purposes some channel's reach counts: shoppers holding all of them set two
# audiences as far apart in every channel's reach as in members (release_check.py).
SHOWN_PURPOSES = tuple(sorted({p.value for p in CHANNEL_PURPOSE.values()}))


@dataclass(frozen=True, slots=True)
class TinyRetailer:
    tag: str  # prefixes every id, so tests sharing a database stay apart

    def id(self, name: str) -> str:
        return f"{self.tag}-{name}"


def tiny_files(folder: Path) -> tuple[TinyRetailer, dict[str, Path]]:
    """Three shoppers: c1 and c2 share an e-mail (one person), c3 is alone; c4 and c5
    sit with many others on a house card (never merged)."""
    r = TinyRetailer(uuid.uuid4().hex[:6])
    t = r.tag
    house = "\n".join(f"{t}-h{i},loyalty_card,HOUSE-{t}" for i in range(8))
    bodies = {
        "products": (
            "sku,name,brand,manufacturer,category,department\n"
            f"{t}-1,Milk,Dairyland,Dairy Co {t},Milk,Dairy\n"
        ),
        "customers": "customer_id\n"
        + "\n".join(r.id(f"c{i}") for i in range(1, 4))
        + "\n"
        + "\n".join(f"{t}-h{i}" for i in range(8))
        + "\n",
        "identifiers": (
            "customer_id,id_type,id_value\n"
            f"{t}-c1,email,Ann.{t}@Example.com\n{t}-c2,email, ann.{t}@example.com\n"
            f"{t}-c2,phone,070-111 22 33\n{t}-c3,email,bo.{t}@example.com\n{house}\n"
        ),
        "consents": (
            "customer_id,purpose,status,recorded_at\n"
            f"{t}-c1,email,granted,2026-01-01T00:00:00Z\n"
            f"{t}-c2,email,withdrawn,2026-01-01T00:00:00Z\n"
            f"{t}-c2,measurement,granted,2026-01-01T00:00:00Z\n"
            f"{t}-c3,measurement,granted,2026-01-01T00:00:00Z\n"
        ),
        "transactions": (
            "transaction_id,occurred_at,sku,quantity,sales_value,customer_id\n"
            f"{t}-t1,2026-02-01,{t}-1,1,10.00,{t}-c1\n"
            f"{t}-t2,2026-02-02,{t}-1,2,20.00,{t}-c2\n"
            f"{t}-t3,2026-02-03,{t}-1,3,30.00,{t}-c3\n"
        ),
    }
    paths = {}
    for entity, body in bodies.items():
        paths[entity] = folder / f"{entity}.csv"
        paths[entity].write_text(body, encoding="utf-8")
    return r, paths


async def load_tiny(session: AsyncSession, settings: Settings, folder: Path) -> TinyRetailer:
    retailer, files = tiny_files(folder)
    for entity in ("products", "customers", "identifiers", "consents", "transactions"):
        report = await IngestService(session, settings).load(entity, files[entity])
        assert report.status == "loaded", report.rejections
    return retailer


def unique_postal_codes(
    folder: Path, *, granted: Collection[str] = (), withheld: Collection[str] = ()
) -> list[str]:
    """Postal codes that exactly one customer in ``folder/customers.csv`` has: the handle an
    attacker would use to single one shopper out of an audience. With ``granted`` or
    ``withheld``, only those whose customer's latest consent event (``consents.csv``) for
    each purpose of ``granted`` is a grant, and for none of ``withheld`` is."""
    counts: dict[str, int] = {}
    holder: dict[str, str] = {}
    with (folder / "customers.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            counts[row["postal_code"]] = counts.get(row["postal_code"], 0) + 1
            holder[row["postal_code"]] = row["customer_id"]
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    if granted or withheld:
        with (folder / "consents.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row["customer_id"], row["purpose"])
                if key not in latest or row["recorded_at"] >= latest[key][0]:
                    latest[key] = (row["recorded_at"], row["status"])

    def holds(customer: str, purpose: str) -> bool:
        return latest.get((customer, purpose), ("", ""))[1] == "granted"

    return sorted(
        code
        for code, n in counts.items()
        if n == 1
        and code
        and all(holds(holder[code], p) for p in granted)
        and not any(holds(holder[code], p) for p in withheld)
    )


async def profile_of(session: AsyncSession, customer_id: str) -> int:
    """The profile the customer record ``customer_id`` belongs to now."""
    customer = await IdentityRepository(session).customer(customer_id)
    assert customer is not None
    assert customer.profile_id is not None
    return customer.profile_id
