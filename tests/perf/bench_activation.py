"""Activation export at 100k and 1M audience members: time, rows/s and peak RSS, next to
a raw COPY of the same join.

Run from the repository root (needs PostgreSQL at ``ENDCAP_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``)::

    .venv/bin/python -m tests.perf.bench_activation [--profiles 100000 1000000]
        [--chunk-rows 50000] [--keep-files DIR]

For each size it creates a throwaway database, migrates it, and writes a shop straight
in SQL (``generate_series``, deterministic by ``g``): one profile and one customer per
person; an e-mail hash for everyone and a phone hash for 3 in 5, every 500th e-mail
flagged shared; ``targeting_onsite`` granted for 9 in 10 (and withdrawn again later for
1 in 30), ``targeting_offsite`` granted for 7 in 10 (and the consent state derived
from that ledger, as its writers keep it); an audience version holding every profile;
an approved campaign with a 10% holdout on ``onsite_display`` and
``offsite_social``, neither with an endpoint (the file drop). Then ``ANALYZE``.

Then, each in a freshly spawned process (so that each peak RSS is its own), one channel
after the other:

  endcap    the "activation_export" job handler on a fresh activation, as the worker
            runs it (its own engine with JIT on): mark running, stream members with
            consent (and match keys), holdout in Python, CSV to the spool, count,
            rename into the drop, record the counts
  COPY      the export's very statement (``members_statement``, compiled for asyncpg,
            same parameters) as ``COPY (...) TO STDOUT`` through asyncpg into a file:
            what moving the same rows costs with no Python in the way (no holdout, no
            grouping, no CSV of our own)

and prints wall seconds, member rows per second, peak RSS (``ru_maxrss`` of the
step's process, next to its RSS after start-up) and the file sizes. The endcap
counts must add up (members = holdout + no consent + contact pressure + exported, plus
the profiles without a key offsite). The machines are small and noisy: read ratios, not
absolute numbers. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from endcap.activation.jobs import run_export
from endcap.activation.models import Activation
from endcap.activation.repository import members_statement
from endcap.activation.service import EXPORT_JOB
from endcap.audiences.models import Audience, AudienceStatus, AudienceVersion
from endcap.config import ActivationSettings
from endcap.consent.state import refresh_consents
from endcap.db import migrate
from endcap.db.base import table_of
from endcap.db.engine import create_engine, create_session_factory
from endcap.db.session import standalone_session
from endcap.identity.models import Profile
from endcap.jobs.models import Job
from endcap.marketplace.holdout import new_salt
from endcap.marketplace.models import Campaign, CampaignAudience, CampaignStatus
from endcap.partners.models import Partner, PartnerKind
from endcap.privacy.channels import Channel, required_purpose
from tests.perf.bench_ingest import (
    asyncpg_dsn,
    check_disk,
    in_child,
    mib,
    peak_rss_kib,
    postgres_data_dir,
    print_facts,
    settings_for,
    vm_kib,
    workdir,
)
from tests.support import databases

CHANNELS = (Channel.ONSITE_DISPLAY, Channel.OFFSITE_SOCIAL)
HOLDOUT_SHARE = Decimal("0.100")
# Profiles, customers, ~1.6 identifiers, ~1.7 consent events and a membership per person,
# with indexes and WAL; plus the exported files.
DB_BYTES_PER_PROFILE = 1500
STEP_TIMEOUT = 3600.0

# The shop, in SQL: $1 is the number of people; everything is a function of g.
SHOP_SQL = (
    "INSERT INTO profiles (id, created_at) SELECT g, now() FROM generate_series(1, $1) g",
    "SELECT setval(pg_get_serial_sequence('profiles', 'id'), $1)",
    "INSERT INTO customers (id, customer_id, profile_id, attributes, updated_at)"
    " SELECT g, 'c' || g, g, '{}'::jsonb, now() FROM generate_series(1, $1) g",
    "SELECT setval(pg_get_serial_sequence('customers', 'id'), $1)",
    "INSERT INTO identifiers (id_type, id_value, customer_ref)"
    " SELECT 'email', encode(sha256(convert_to('shopper' || g || '@example.com', 'UTF8')),"
    " 'hex'), g FROM generate_series(1, $1) g",
    "INSERT INTO identifiers (id_type, id_value, customer_ref)"
    " SELECT 'phone', encode(sha256(convert_to('+4670' || lpad(g::text, 7, '0'), 'UTF8')),"
    " 'hex'), g FROM generate_series(1, $1) g WHERE g % 5 < 3",
    "INSERT INTO shared_identifiers (id_type, id_value, customer_count, flagged_at)"
    " SELECT 'email', id_value, 6, now() FROM identifiers"
    " WHERE id_type = 'email' AND customer_ref % 500 = 0",
    "INSERT INTO consent_events (customer_ref, purpose, status, recorded_at, created_at)"
    " SELECT g, 'targeting_onsite', 'granted', timestamptz '2026-01-01', now()"
    " FROM generate_series(1, $1) g WHERE g % 10 <> 0",
    "INSERT INTO consent_events (customer_ref, purpose, status, recorded_at, created_at)"
    " SELECT g, 'targeting_onsite', 'withdrawn', timestamptz '2026-02-01', now()"
    " FROM generate_series(1, $1) g WHERE g % 30 = 1",
    "INSERT INTO consent_events (customer_ref, purpose, status, recorded_at, created_at)"
    " SELECT g, 'targeting_offsite', 'granted', timestamptz '2026-01-01', now()"
    " FROM generate_series(1, $1) g WHERE g % 10 < 7",
)
MEMBERS_SQL = (
    "INSERT INTO audience_members (audience_id, version, profile_id)"
    " SELECT $1, 1, g FROM generate_series(1, $2) g"
)


# -- the shop ------------------------------------------------------------------------------


async def build_shop(url: str, profiles: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The synthetic shop of the module docstring; returns the campaign and audience ids."""
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        for sql in SHOP_SQL:
            await conn.execute(sql, *((profiles,) if "$1" in sql else ()))
    finally:
        await conn.close()
    async with standalone_session(settings_for(url).database) as session:
        # The ledger went in as plain SQL: bring the state exports read in step with it,
        # as every writer of events does (one set-based pass over everyone).
        await refresh_consents(session, select(table_of(Profile).c.id))
        partner = Partner(name="Bench Brand", kind=PartnerKind.MANUFACTURER)
        audience = Audience(name="bench audience", status=AudienceStatus.PUBLISHED)
        session.add_all([partner, audience])
        await session.flush()
        session.add(AudienceVersion(audience_id=audience.id, version=1, size=profiles))
        campaign = Campaign(
            partner_id=partner.id,
            name="bench campaign",
            channels=[c.value for c in CHANNELS],
            skus=[],
            starts_on=date(2026, 7, 1),
            ends_on=date(2026, 7, 31),
            budget=Decimal("100000.00"),
            currency="SEK",
            frequency_cap=3,
            holdout_share=HOLDOUT_SHARE,
            post_click_days=14,
            post_view_days=7,
            status=CampaignStatus.APPROVED,
            holdout_salt=new_salt(),
        )
        session.add(campaign)
        await session.flush()
        session.add(
            CampaignAudience(
                campaign_id=campaign.id, position=0, audience_id=audience.id, audience_version=1
            )
        )
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute(MEMBERS_SQL, audience.id, profiles)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return campaign.id, audience.id


async def new_activation(url: str, campaign_id: uuid.UUID, channel: Channel) -> uuid.UUID:
    async with standalone_session(settings_for(url).database) as session:
        activation = Activation(campaign_id=campaign_id, channel=channel.value)
        session.add(activation)
    return activation.id


# -- the two steps, each in a child --------------------------------------------------------


def endcap_in_child(url: str, drop_dir: str, activation_id: str, chunk_rows: int) -> dict[str, Any]:
    result = asyncio.run(_endcap(url, drop_dir, uuid.UUID(activation_id), chunk_rows))
    return result | {"bytes": Path(result["destination"]).stat().st_size}


async def _endcap(
    url: str, drop_dir: str, activation_id: uuid.UUID, chunk_rows: int
) -> dict[str, Any]:
    settings = settings_for(url)
    settings.activation = ActivationSettings(drop_dir=drop_dir, chunk_rows=chunk_rows)
    engine = create_engine(settings.database, jit=True)  # as the worker's engine
    sessions = create_session_factory(engine)
    start_kib = vm_kib("VmRSS")
    job = Job(kind=EXPORT_JOB, params={"activation_id": str(activation_id)})
    try:
        started = time.perf_counter()
        result = await run_export(sessions, settings, job, lambda _done, _total: None)
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    activation = result["activation"]
    return {
        "seconds": seconds,
        "start_kib": start_kib,
        "peak_kib": peak_rss_kib(),
        "counts": {
            name: activation[name]
            for name in (
                "members",
                "holdout_excluded",
                "no_consent_excluded",
                "pressure_excluded",
                "exported",
            )
        }
        | {"match_keys": activation["match_keys"]},
        "destination": activation["destination"],
    }


def copy_in_child(url: str, audience_id: str, channel: str, path: str) -> dict[str, Any]:
    result = asyncio.run(_copy(url, uuid.UUID(audience_id), Channel(channel), Path(path)))
    return result | {"bytes": Path(path).stat().st_size}


async def _copy(url: str, audience_id: uuid.UUID, channel: Channel, path: Path) -> dict[str, Any]:
    statement = members_statement(
        [(audience_id, 1)],
        required_purpose(channel),
        with_match_keys=channel is Channel.OFFSITE_SOCIAL,
    )
    compiled = statement.compile(
        dialect=PGDialect_asyncpg(), compile_kwargs={"render_postcompile": True}
    )
    args = [compiled.params[name] for name in compiled.positiontup or ()]
    start_kib = vm_kib("VmRSS")
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10, server_settings={"jit": "on"})
    try:
        started = time.perf_counter()
        status = await conn.copy_from_query(compiled.string, *args, output=str(path), format="csv")
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "seconds": seconds,
        "start_kib": start_kib,
        "peak_kib": peak_rss_kib(),
        "rows": int(status.split()[-1]),
    }


# -- one size ------------------------------------------------------------------------------


def run_size(profiles: int, chunk_rows: int, folder: Path) -> None:
    print(f"\n== {profiles:,} audience members (holdout {HOLDOUT_SHARE:.0%})")
    check_disk(postgres_data_dir(), profiles * DB_BYTES_PER_PROFILE, "the shop's database")
    url = databases.create_postgres_database("endcap_bench_activation")
    try:
        migrate.upgrade(url)
        started = time.perf_counter()
        campaign_id, audience_id = asyncio.run(build_shop(url, profiles))
        print(f"  shop written and analysed in {time.perf_counter() - started:,.1f} s")
        print(
            f"  {'step':<26}{'seconds':>9}{'members/s':>12}{'RSS start':>11}"
            f"{'peak RSS':>10}{'file MiB':>10}"
        )
        for channel in CHANNELS:
            activation_id = asyncio.run(new_activation(url, campaign_id, channel))
            mine = in_child(
                f"endcap {channel}",
                STEP_TIMEOUT,
                endcap_in_child,
                url,
                str(folder / "drop"),
                str(activation_id),
                chunk_rows,
            )
            raw = in_child(
                f"COPY {channel}",
                STEP_TIMEOUT,
                copy_in_child,
                url,
                str(audience_id),
                channel.value,
                str(folder / f"copy-{channel.value}.csv"),
            )
            for label, step in ((f"endcap {channel}", mine), (f"COPY {channel}", raw)):
                print(
                    f"  {label:<26}{step['seconds']:>9.2f}{profiles / step['seconds']:>12,.0f}"
                    f"{mib(step['start_kib']):>11}{mib(step['peak_kib']):>10}"
                    f"{step['bytes'] / 2**20:>10.1f}"
                )
            check_counts(profiles, mine["counts"], raw["rows"])
    finally:
        databases.drop_postgres_database(url)


def check_counts(profiles: int, counts: dict[str, int | None], copied_rows: int) -> None:
    members = counts["members"] or 0
    excluded = sum(
        counts[name] or 0
        for name in ("holdout_excluded", "no_consent_excluded", "pressure_excluded")
    )
    no_key = members - excluded - (counts["exported"] or 0)
    shown = "  ".join(f"{k}={v:,}" for k, v in counts.items() if v is not None)
    print(f"    counts: {shown}  no_key={no_key:,}  (COPY rows: {copied_rows:,})")
    if members != profiles or no_key < 0:
        raise SystemExit(f"counts do not add up: {counts}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profiles", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunk-rows", type=int, default=ActivationSettings().chunk_rows)
    parser.add_argument("--keep-files", type=Path, default=None, metavar="DIR")
    args = parser.parse_args(argv)
    print_facts()
    print(f"activation chunk_rows={args.chunk_rows:,}; RSS in MiB")
    for profiles in args.profiles:
        with workdir(args.keep_files, f"activation-{profiles}") as folder:
            run_size(profiles, args.chunk_rows, folder)


if __name__ == "__main__":
    main()
