"""How much does Endcap's request path cost, next to bare Litestar on the same machine?

Run from the repository root (needs PostgreSQL at ``ENDCAP_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``)::

    .venv/bin/python -m tests.perf.bench_api [--seconds 10] [--concurrency 32]

It creates a throwaway database, migrates it, bootstraps an admin key, a brand
partner and a brand key straight into it, and starts servers under uvicorn in
subprocesses, all with the same command line (``tests.perf.launcher``). A load
generator in a second process (``tests.perf.loadgen``) then drives, after a
warm-up, each scenario for a fixed time:

  bare      bare Litestar (``tests.perf.bare_app``): static-key guard, same JSON, no database
  me        Endcap ``GET /api/v1/me``: API-key lookup only
  partner   Endcap ``GET /api/v1/partners/{id}`` as the brand: route, service, repository, a row
  create    Endcap ``POST /api/v1/partners`` as the admin: the write path (``--no-write`` skips)

Endcap runs with its default telemetry (``OTEL_SDK_DISABLED`` unset; ``--no-telemetry``
sets it) and ``ENDCAP_LOG_LEVEL=WARNING`` so per-request logging does not dominate.
The machines are small and noisy: read the ratio to the bare baseline, not the
absolute numbers. The cpu columns tell who was saturated: the server process,
the load generator, or the whole host (100% = every core busy). On two cores the
bare baseline is usually held back by the Python load generator (gen cpu near
100%), so its req/s ratio understates Endcap's cost; server CPU per request
("srv ms/req", and "x bare" for its ratio) does not depend on who saturated.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import sys
import tempfile
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate
from endcap.auth.service import ApiKeyService
from endcap.config import AuthSettings, DatabaseSettings
from endcap.db import migrate
from endcap.db.session import standalone_session
from endcap.partners.schemas import PartnerCreate
from endcap.partners.service import PartnerService
from tests.perf import bare_app
from tests.perf.launcher import AppServer, cpu_seconds, host_busy
from tests.perf.loadgen import LoadResult, LoadSpec, run_load
from tests.support import databases

BARE_TARGET = "tests.perf.bare_app:create_bare_app"


@dataclass(frozen=True, slots=True)
class Keys:
    admin: str
    brand: str
    partner_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    result: LoadResult
    server_cpu_s: float  # CPU seconds the server process used while measured
    host_busy: float  # share of all cores busy while measured

    @property
    def server_cpu(self) -> float:
        return self.server_cpu_s / self.result.elapsed

    @property
    def server_ms_per_request(self) -> float:
        done = self.result.ok + self.result.errors
        return 1000 * self.server_cpu_s / done if done else float("nan")


async def bootstrap(settings: DatabaseSettings) -> Keys:
    """As ``tests/conftest.py`` (and ``endcap keys create``) do it: straight into the database."""
    prefix = AuthSettings().key_prefix
    async with standalone_session(settings) as session:
        partner = await PartnerService(session).create(
            PartnerCreate(name=f"Bench Foods {uuid.uuid4().hex[:6]}")
        )
        keys = ApiKeyService(session, prefix)
        admin = await keys.create(ApiKeyCreate(name="bench admin", role=Role.RETAILER_ADMIN))
        brand = await keys.create(
            ApiKeyCreate(name="bench brand", role=Role.BRAND, partner_id=partner.id)
        )
    return Keys(admin=admin.key, brand=brand.key, partner_id=partner.id)


def measure(
    pool: ProcessPoolExecutor, server: AppServer, name: str, spec: LoadSpec, warmup: float
) -> Row:
    if warmup > 0:
        pool.submit(run_load, replace(spec, seconds=warmup)).result()
    cpu0, (busy0, total0) = cpu_seconds(server.pid), host_busy()
    result = pool.submit(run_load, spec).result()
    cpu1, (busy1, total1) = cpu_seconds(server.pid), host_busy()
    if server.process is not None and server.process.poll() is not None:
        raise RuntimeError(f"{name}: the server died:\n{server.logs()}")
    row = Row(name, result, cpu1 - cpu0, (busy1 - busy0) / (total1 - total0))
    print(f"  {name:<8} done: {result.rps:8.0f} req/s, {result.errors} errors", flush=True)
    return row


def print_facts(args: argparse.Namespace) -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    print(f"machine: nproc={os.cpu_count()}  cpu={cpu}  loadavg={os.getloadavg()}")
    print(f"python {platform.python_version()} ({sys.executable})")
    libs = ("litestar", "uvicorn", "httpx", "sqlalchemy", "asyncpg")
    print("versions: " + "  ".join(f"{lib} {version(lib)}" for lib in libs))
    print(
        f"load: {args.concurrency} concurrent keep-alive workers, {args.warmup:g} s warm-up, "
        f"{args.seconds:g} s measured per scenario"
    )


def print_settings(endcap: AppServer, bare: AppServer, db: DatabaseSettings) -> None:
    print(f"uvicorn (both servers): python -m uvicorn {endcap.uvicorn_flags()}")
    print(f"  endcap target: {endcap.target}   bare target: {bare.target}")
    shown = ("ENDCAP_LOG_LEVEL", "ENDCAP_LOG_FORMAT", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER")
    env = "  ".join(f"{k}={endcap.env.get(k, '<unset>')}" for k in shown)
    print(f"  endcap env: {env}")
    print(f"  endcap db: {db.url}  pool_size={db.pool_size} max_overflow={db.max_overflow}")


def print_table(rows: list[Row]) -> None:
    base, base_ms = rows[0].result.rps, rows[0].server_ms_per_request
    print(
        f"\n{'scenario':<9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'vs bare':>8}"
        f" |{'srv cpu':>8}{'gen cpu':>8}{'host':>6}{'srv ms/req':>11}{'x bare':>7}"
    )
    for row in rows:
        r, ms = row.result, row.server_ms_per_request
        print(
            f"{row.name:<9}{r.rps:>8.0f}{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}{r.errors:>7}"
            f"{r.rps / base:>8.3f} |{row.server_cpu:>8.0%}{r.client_cpu:>8.0%}"
            f"{row.host_busy:>6.0%}{ms:>11.3f}{ms / base_ms:>7.1f}"
        )
    print(
        "vs bare: req/s over the bare baseline's. srv ms/req: server CPU per request, which"
        " does not\ndepend on who saturated; x bare: that, over the baseline's."
    )
    for row in rows:
        if row.result.first_error:
            print(f"first error in {row.name}: {row.result.first_error}")


def run(args: argparse.Namespace, url: str, tmp: Path) -> list[Row]:
    db = DatabaseSettings(url=url)
    migrate.upgrade(url)
    keys = asyncio.run(bootstrap(db))
    drop = ("OTEL_SDK_DISABLED",)
    endcap_env = {"ENDCAP_DATABASE_URL": url, "ENDCAP_LOG_LEVEL": args.log_level}
    if args.no_telemetry:
        endcap_env["OTEL_SDK_DISABLED"] = "true"
    bare = AppServer({}, tmp / "bare.log", target=BARE_TARGET, ready_path="/ready", drop_env=drop)
    endcap = AppServer(endcap_env, tmp / "endcap.log", drop_env=drop)
    print_settings(endcap, bare, db)

    def spec(server: AppServer, path: str, key: str) -> LoadSpec:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        url = server.base_url + path
        return LoadSpec(url, args.seconds, args.concurrency, headers=headers)

    partner_path = f"/api/v1/partners/{keys.partner_id}"
    endcap_scenarios = [
        ("me", spec(endcap, "/api/v1/me", keys.brand)),
        ("partner", spec(endcap, partner_path, keys.brand)),
    ]
    if not args.no_write:
        create = spec(endcap, "/api/v1/partners", keys.admin)
        body = '{"name": "Bench {uid}", "kind": "agency"}'
        create = replace(create, method="POST", body_template=body, expect=201)
        endcap_scenarios.append(("create", create))
    plan = [
        (bare, [("bare", spec(bare, partner_path, bare_app.STATIC_KEY))]),
        (endcap, endcap_scenarios),
    ]
    rows: list[Row] = []
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        for server, scenarios in plan:  # one server at a time, so they never compete
            try:
                server.start()
                rows.extend(
                    measure(pool, server, name, load, args.warmup) for name, load in scenarios
                )
            finally:
                server.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent workers")
    parser.add_argument("--log-level", default="WARNING", help="ENDCAP_LOG_LEVEL for Endcap")
    parser.add_argument("--no-telemetry", action="store_true", help="set OTEL_SDK_DISABLED=true")
    parser.add_argument("--no-write", action="store_true", help="skip the POST scenario")
    args = parser.parse_args(argv)
    print_facts(args)
    url = databases.create_postgres_database("endcap_bench")
    try:
        with tempfile.TemporaryDirectory(prefix="endcap-bench-") as tmp:
            rows = run(args, url, Path(tmp))
    finally:
        databases.drop_postgres_database(url)
    print_table(rows)


if __name__ == "__main__":
    main()
