"""Booking throughput and latency on PostgreSQL, next to bare Litestar answering the same JSON.

    .venv/bin/python -m tests.perf.bench_booking [--seconds 15] [--concurrency 16] [--partners 8]

A throwaway database gets a small catalog, partners owning a manufacturer, a
published audience (one version, 100k members' worth of reach) and rate cards
with room for every booking. Endcap runs under uvicorn exactly as in
production (``tests.perf.launcher``); the load runs in a process of its own.
Each worker repeats the brand's flow with its partner's key: create a draft
(``POST /campaigns``), book it (``POST /campaigns/{id}/book``: pin, price, take
capacity, audit), then forecast (``POST /forecasts``). The bare baseline
(``tests.perf.bare_booking``) answers the same three calls with the same JSON
and no database. Read the ratios: the machines are small and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvloop

from endcap.audiences.models import Audience, AudienceStatus, AudienceVersion
from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate
from endcap.auth.service import ApiKeyService
from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.config import AuthSettings, DatabaseSettings
from endcap.db import migrate
from endcap.db.session import standalone_session
from endcap.marketplace.models import ChannelSettings
from endcap.partners.models import Partner, PartnerKind, PartnerManufacturer
from tests.perf import bare_app
from tests.perf.bare_booking import SAMPLES_ENV
from tests.perf.bench_api import print_facts
from tests.perf.launcher import AppServer, cpu_seconds
from tests.support import databases

STEPS = ("create", "book", "forecast")
REACH = {"onsite_display": 80_000, "email": 50_000}


@dataclass(frozen=True, slots=True)
class Seeded:
    audience_id: uuid.UUID
    keys: list[str]
    skus: list[str]
    admin: str


@dataclass(frozen=True, slots=True)
class FlowSpec:
    base_url: str
    keys: list[str]
    body: dict[str, Any]
    seconds: float
    concurrency: int


@dataclass
class FlowResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    bookings: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def pct(self, step: str, q: float) -> float:
        values = sorted(self.latencies.get(step, []))
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


async def seed(db: DatabaseSettings, partners: int) -> Seeded:
    prefix = AuthSettings().key_prefix
    async with standalone_session(db) as session:
        keys = ApiKeyService(session, prefix)
        admin = (await keys.create(ApiKeyCreate(name="admin", role=Role.RETAILER_ADMIN))).key
        maker = Manufacturer(name="Bench Foods")
        session.add(maker)
        await session.flush()
        brand = Brand(name="Bench", manufacturer_id=maker.id or 0)
        session.add(brand)
        await session.flush()
        skus = [f"bench-{i}" for i in range(10)]
        session.add_all(
            Product(sku=s, name=s, brand_id=brand.id or 0, department="Pantry", category="Snacks")
            for s in skus
        )
        audience = Audience(name="Bench audience", status=AudienceStatus.PUBLISHED)
        audience.current_version = 1
        session.add(audience)
        await session.flush()
        session.add(AudienceVersion(audience_id=audience.id, version=1, size=100_000, reach=REACH))
        for channel in REACH:
            session.add(
                ChannelSettings(
                    channel=channel,
                    cpm=Decimal("40.00"),
                    currency="SEK",
                    weekly_capacity=10**14,
                    max_per_profile_week=3,
                )
            )
        brand_keys = []
        for i in range(partners):
            partner = Partner(name=f"Bench partner {i}", kind=PartnerKind.MANUFACTURER)
            session.add(partner)
            await session.flush()
            session.add(PartnerManufacturer(partner_id=partner.id, manufacturer_id=maker.id or 0))
            created = await keys.create(
                ApiKeyCreate(name=f"brand {i}", role=Role.BRAND, partner_id=partner.id)
            )
            brand_keys.append(created.key)
    return Seeded(audience.id, brand_keys, skus, admin)


def campaign_body(seeded: Seeded) -> dict[str, Any]:
    starts = date.today() + timedelta(days=14)  # noqa: DTZ011  (a calendar day)
    return {
        "name": "Bench {uid}",
        "audience_id": str(seeded.audience_id),
        "skus": seeded.skus[:2],
        "channels": ["onsite_display", "email"],
        "starts_on": starts.isoformat(),
        "ends_on": (starts + timedelta(days=27)).isoformat(),
        "budget": "50000.00",
        "currency": "SEK",
        "frequency_cap": 2,
        "creative": {"headline": "Bench", "landing_url": "https://example.com/"},
    }


def run_flow(spec: FlowSpec) -> FlowResult:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_flow(spec))


async def _flow(spec: FlowSpec) -> FlowResult:
    result = FlowResult(latencies={step: [] for step in STEPS})
    forecast = {k: spec.body[k] for k in ("audience_id", "channels", "starts_on", "ends_on")}

    async def call(client: httpx.AsyncClient, step: str, path: str, body: Any, ok: int) -> Any:
        started = time.perf_counter()
        response = await client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        result.latencies[step].append(time.perf_counter() - started)
        if response.status_code != ok:
            result.errors.append(f"{step}: HTTP {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    async def worker(client: httpx.AsyncClient, deadline: float) -> None:
        while time.perf_counter() < deadline:
            body = {**spec.body, "name": f"Bench {uuid.uuid4().hex}"}
            draft = await call(client, "create", "/api/v1/campaigns", body, 201)
            if draft is None:
                continue
            booked = await call(client, "book", f"/api/v1/campaigns/{draft['id']}/book", None, 200)
            if booked is not None:
                result.bookings += 1
            await call(client, "forecast", "/api/v1/forecasts", forecast, 200)

    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=spec.base_url,
                    headers={"Authorization": f"Bearer {spec.keys[i % len(spec.keys)]}"},
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    timeout=30,
                    trust_env=False,
                )
            )
            for i in range(spec.concurrency)
        ]
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, started + spec.seconds) for c in clients))
        result.elapsed = time.perf_counter() - started
    return result


def samples(server: AppServer, seeded: Seeded) -> dict[str, Any]:
    """One real answer of each call, for the bare baseline to send back."""
    body = {**campaign_body(seeded), "name": "sample"}
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {seeded.keys[0]}"}
    ) as http:
        campaign = http.post("/api/v1/campaigns", json=body).json()
        booked = http.post(f"/api/v1/campaigns/{campaign['id']}/book").json()
        keys = ("audience_id", "channels", "starts_on", "ends_on")
        forecast = http.post("/api/v1/forecasts", json={k: body[k] for k in keys}).json()
    return {"campaign": campaign, "booked": booked, "forecast": forecast}


def measure(
    pool: ProcessPoolExecutor, server: AppServer, spec: FlowSpec, warmup: float
) -> tuple[FlowResult, float]:
    if warmup:
        pool.submit(run_flow, replace(spec, seconds=warmup)).result()
    cpu0 = cpu_seconds(server.pid)
    result = pool.submit(run_flow, spec).result()
    return result, cpu_seconds(server.pid) - cpu0


def report(name: str, result: FlowResult, cpu: float) -> None:
    requests = sum(len(v) for v in result.latencies.values())
    print(
        f"{name:<7}{result.bookings / result.elapsed:>10.0f}{requests / result.elapsed:>9.0f}"
        + "".join(f"{result.pct(s, 0.5):>8.1f}{result.pct(s, 0.99):>8.1f}" for s in STEPS)
        + f"{cpu / result.elapsed:>8.0%}{1000 * cpu / max(requests, 1):>9.2f}"
        + f"{len(result.errors):>7}"
    )
    if result.errors:
        print(f"        first error: {result.errors[0]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--partners", type=int, default=8)
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes, for both servers"
    )
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--no-telemetry", action="store_true", help="set OTEL_SDK_DISABLED=true")
    parser.add_argument(
        "--db-prefix",
        default="endcap_bench_booking",
        help="the throwaway database's name starts with this",
    )
    args = parser.parse_args(argv)
    args.no_write = False
    print_facts(args)
    print(f"servers: {args.workers} uvicorn worker process(es) each")
    url = databases.create_postgres_database(args.db_prefix)
    try:
        migrate.upgrade(url)
        seeded = asyncio.run(seed(DatabaseSettings(url=url), args.partners))
        with (
            tempfile.TemporaryDirectory(prefix="endcap-bench-") as tmp,
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool,
        ):
            env = {"ENDCAP_DATABASE_URL": url, "ENDCAP_LOG_LEVEL": args.log_level}
            if args.no_telemetry:
                env["OTEL_SDK_DISABLED"] = "true"
            endcap = AppServer(env, Path(tmp) / "endcap.log", workers=args.workers).start()
            try:
                shown = samples(endcap, seeded)
                spec = FlowSpec(
                    endcap.base_url,
                    seeded.keys,
                    campaign_body(seeded),
                    args.seconds,
                    args.concurrency,
                )
                ours = measure(pool, endcap, spec, args.warmup)
            finally:
                endcap.stop()
            (Path(tmp) / "samples.json").write_text(json.dumps(shown))
            bare = AppServer(
                {SAMPLES_ENV: str(Path(tmp) / "samples.json")},
                Path(tmp) / "bare.log",
                target="tests.perf.bare_booking:create_bare_app",
                ready_path="/ready",
                workers=args.workers,
            ).start()
            try:
                bare_spec = FlowSpec(
                    bare.base_url, [bare_app.STATIC_KEY], spec.body, args.seconds, args.concurrency
                )
                baseline = measure(pool, bare, bare_spec, args.warmup)
            finally:
                bare.stop()
    finally:
        databases.drop_postgres_database(url)
    print(
        f"\n{'server':<7}{'book/s':>10}{'req/s':>9}"
        + "".join(f"{s + ' p50':>8}{'p99':>8}" for s in STEPS)
        + f"{'srv cpu':>8}{'ms/req':>9}{'errors':>7}"
    )
    report("bare", *baseline)
    report("endcap", *ours)
    ratio = (ours[0].bookings / ours[0].elapsed) / (baseline[0].bookings / baseline[0].elapsed)
    print(f"endcap bookings/s over bare: {ratio:.3f}; goal 500 bookings/s with book p99 <= 50 ms")


if __name__ == "__main__":
    main()
