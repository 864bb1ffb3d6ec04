"""Where a booking flow's server time goes: Python calls and PostgreSQL round trips per request.

    .venv/bin/python -m tests.perf.profile_booking [--seconds 10] [--concurrency 8] [--top 30]

Seeds and loads Endcap exactly as ``tests.perf.bench_booking`` does (create a draft,
book it, forecast), with the server under cProfile for the measured seconds only.
Prints Python calls per request (deterministic, unlike CPU time on a shared machine),
the round trips per flow by kind, and the functions with the most own time. cProfile
slows the server several times over: read the latencies from bench_booking.
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
from dataclasses import replace
from pathlib import Path

from endcap.config import DatabaseSettings
from endcap.db import migrate
from tests.perf.bench_booking import FlowSpec, campaign_body, run_flow, samples, seed
from tests.perf.launcher import AppServer
from tests.perf.profiled_booking_app import OUT_ENV
from tests.support import databases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--partners", type=int, default=8)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    url = databases.create_postgres_database("endcap_profile_booking")
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
                os.kill(server.pid, signal.SIGUSR1)
                result = pool.submit(run_flow, spec).result()
                os.kill(server.pid, signal.SIGUSR2)
                deadline = time.monotonic() + 30
                while not out.with_suffix(".json").exists() and time.monotonic() < deadline:
                    time.sleep(0.2)
            finally:
                server.stop()
            stats = pstats.Stats(str(out))
            counts: dict[str, int] = json.loads(out.with_suffix(".json").read_text())
    finally:
        databases.drop_postgres_database(url)
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
