"""The demo's retailer: generated, then loaded through the very loaders real data uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv

from endcap.config import Settings
from endcap.db.session import standalone_session
from endcap.errors import EndcapError
from endcap.identity.repository import IdentityRepository
from endcap.ingest.contract import LOAD_ORDER
from endcap.ingest.service import IngestService
from endcap.synthetic import generate

DEMO_PROFILES = 5000  # big enough for real key chains and totals, loads in seconds
DEMO_SEED = 7


@dataclass(frozen=True, slots=True)
class ExampleShopper:
    """A person whose key chain joined several records, to show in the next steps."""

    profile_id: int
    email: str | None
    customer_ids: list[str]


def generate_files(folder: Path) -> dict[str, Path]:
    summary = generate(folder, DEMO_PROFILES, DEMO_SEED)
    return {entity: Path(path) for entity, path in summary.paths.items()}


async def load_files(settings: Settings, files: dict[str, Path]) -> dict[str, int]:
    """Load every file in dependency order; each is all-or-nothing like any other load."""
    loaded: dict[str, int] = {}
    for entity in LOAD_ORDER:
        async with standalone_session(settings.database) as session:
            report = await IngestService(session, settings).load(entity, files[entity])
        if report.status != "loaded":
            raise EndcapError(f"the demo's {entity} file was rejected: {report.rejections[:3]}")
        loaded[entity] = report.rows_inserted
    return loaded


async def example_shopper(settings: Settings, identifiers_file: Path) -> ExampleShopper | None:
    async with standalone_session(settings.database) as session:
        repository = IdentityRepository(session)
        profile_id = await repository.largest_profile()
        if profile_id is None:
            return None
        records = [c.customer_id for c in await repository.profile_customers(profile_id)]
    # Endcap keeps only hashes: the readable e-mail comes from the generated file.
    table = pacsv.read_csv(identifiers_file)
    mine = table.filter(
        pc.and_(
            pc.is_in(table["customer_id"], value_set=pc.cast(records, "string")),
            pc.equal(table["id_type"], "email"),
        )
    )
    email = mine["id_value"][0].as_py().strip() if mine.num_rows else None
    return ExampleShopper(profile_id=profile_id, email=email, customer_ids=records)
