"""Where a booking flow's server time goes: CPU, Python calls and PostgreSQL round trips.

    .venv/bin/python -m tests.perf.profile_booking [--seconds 10] [--concurrency 8] [--top 30]

Seeds and loads Endcap exactly as ``tests.perf.bench_booking`` does (create a draft,
book it, forecast). First a plain run measures the CPU time per request of the server
process and of the PostgreSQL backends serving it (/proc: user + system); CPU time is
steadier than throughput on a shared machine, though a busier machine still adds some.
Then a run under cProfile prints Python calls per request (deterministic), the round
trips per flow by kind, and the functions with the most own time. cProfile slows the
server several times over: read the latencies from bench_booking.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import pstats
import signal
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg

from endcap.config import DatabaseSettings
from endcap.db import migrate
from tests.perf.bench_booking import FlowSpec, campaign_body, run_flow, samples, seed
from tests.perf.launcher import AppServer, cpu_seconds
from tests.perf.profiled_booking_app import OUT_ENV
from tests.support import databases


@dataclass(frozen=True, slots=True)
class CpuUse:
    requests: int
    seconds: float
    server_ms: float  # CPU per request of the uvicorn process
    postgres_ms: float  # ... and of the PostgreSQL backends connected to the database
    load: float  # the host's 1-minute load average at the end
    connects: int  # connections the server opened to PostgreSQL meanwhile


def backends(url: str) -> tuple[list[int], int]:
    """The pids of the backends serving the database, and how many sessions it has had."""

    async def query() -> tuple[list[int], int]:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            sessions = await connection.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            )
        finally:
            await connection.close()
        return [row["pid"] for row in rows], int(sessions)

    return asyncio.run(query())


def backend_cpu(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except OSError:  # gone meanwhile
            continue
    return found


def measure_cpu(pool: ProcessPoolExecutor, server: AppServer, spec: FlowSpec, url: str) -> CpuUse:
    """One unprofiled run of ``spec``: CPU per request of the server and its backends."""
    (pids0, sessions0), server0 = backends(url), cpu_seconds(server.pid)
    backends0 = backend_cpu(pids0)
    result = pool.submit(run_flow, spec).result()
    server1, (pids1, sessions1) = cpu_seconds(server.pid), backends(url)
    backends1 = backend_cpu(pids1)
    # A backend that connected during the run spent all its time in it.
    postgres = sum(cpu - backends0.get(pid, 0.0) for pid, cpu in backends1.items())
    requests = max(sum(len(v) for v in result.latencies.values()), 1)
    return CpuUse(
        requests,
        result.elapsed,
        1000 * (server1 - server0) / requests,
        1000 * postgres / requests,
        os.getloadavg()[0],
        sessions1 - sessions0 - 1,  # less the second look-up's own
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--partners", type=int, default=8)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--save", type=Path, help="keep the cProfile stats in this file")
    parser.add_argument(
        "--db-prefix",
        default="endcap_profile_booking",
        help="the throwaway database's name starts with this",
    )
    args = parser.parse_args(argv)
    url = databases.create_postgres_database(args.db_prefix)
    try:
        migrate.upgrade(url)
        seeded = asyncio.run(seed(DatabaseSettings(url=url), args.partners))
        with (
            tempfile.TemporaryDirectory(prefix="endcap-profile-") as tmp,
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool,
        ):
            out = Path(tmp) / "server.prof"
            env = {"ENDCAP_DATABASE_URL": url, "ENDCAP_LOG_LEVEL": "WARNING", OUT_ENV: str(out)}
            server = AppServer(
                env,
                Path(tmp) / "server.log",
                target="tests.perf.profiled_booking_app:create_profiled_app",
            ).start()
            try:
                samples(server, seeded)
                spec = FlowSpec(
                    server.base_url,
                    seeded.keys,
                    campaign_body(seeded),
                    args.seconds,
                    args.concurrency,
                )
                pool.submit(run_flow, replace(spec, seconds=3.0)).result()
                plain = measure_cpu(pool, server, spec, url)
                os.kill(server.pid, signal.SIGUSR1)
                result = pool.submit(run_flow, spec).result()
                os.kill(server.pid, signal.SIGUSR2)
                deadline = time.monotonic() + 30
                while not out.with_suffix(".json").exists() and time.monotonic() < deadline:
                    time.sleep(0.2)
            finally:
                server.stop()
            stats = pstats.Stats(str(out))
            if args.save:
                stats.dump_stats(args.save)
            counts: dict[str, int] = json.loads(out.with_suffix(".json").read_text())
    finally:
        databases.drop_postgres_database(url)
    print(
        f"plain run: {plain.requests} requests, {plain.requests / plain.seconds:.0f}/s, "
        f"load average {plain.load:.2f}; CPU per request: server {plain.server_ms:.2f} ms, "
        f"PostgreSQL {plain.postgres_ms:.2f} ms; {plain.connects} new PostgreSQL connections"
    )
    requests = sum(len(v) for v in result.latencies.values())
    flows = len(result.latencies["create"])
    print(f"{requests} requests ({flows} flows), {len(result.errors)} errors")
    print(f"Python calls per request: {stats.total_calls / max(requests, 1):.0f}")  # type: ignore[attr-defined]
    print(f"round trips per flow: {sum(counts.values()) / max(flows, 1):.1f}")
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {n / max(flows, 1):6.2f}  {name}")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
