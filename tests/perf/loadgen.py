"""A closed-loop HTTP load generator: N keep-alive workers for a fixed time, 127.0.0.1 only.

``run_load(spec)`` is meant to run in a process of its own (the benchmark
submits it to a one-process pool) so that the client does not share an event
loop or a GIL with anything else. Each worker sends its next request as soon
as the previous one answered; every request's latency is recorded. A request
counts as an error when it raised or its status was not ``spec.expect``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import uvloop

ALLOWED_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class LoadSpec:
    url: str
    seconds: float
    concurrency: int
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    # Sent as the body; every "{uid}" becomes a fresh hex id (unique names for POSTs).
    body_template: str | None = None
    expect: int = 200
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class LoadResult:
    ok: int
    errors: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    client_cpu: float  # CPU seconds the load generator used, over elapsed
    first_error: str | None

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return self.ok / self.elapsed if self.elapsed else 0.0


def run_load(spec: LoadSpec) -> LoadResult:
    if urlsplit(spec.url).hostname != ALLOWED_HOST:
        raise ValueError(f"the load generator only talks to {ALLOWED_HOST}, not {spec.url}")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_load(spec))


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _load(spec: LoadSpec) -> LoadResult:
    latencies: list[float] = []
    errors: list[str] = []

    async def worker(client: httpx.AsyncClient, deadline: float) -> None:
        while time.perf_counter() < deadline:
            body = spec.body_template
            if body is not None:
                body = body.replace("{uid}", uuid.uuid4().hex)
            started = time.perf_counter()
            try:
                response = await client.request(spec.method, spec.url, content=body)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                if response.status_code != spec.expect:
                    errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
            latencies.append(time.perf_counter() - started)

    async with AsyncExitStack() as stack:
        # One client (one keep-alive connection) per worker: a single shared httpx pool
        # slows down sharply as concurrency grows (encode/httpx#3215) and would measure
        # the client instead of the server. Made before the clock starts: each builds an
        # SSL context.
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    headers=spec.headers,
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    timeout=spec.timeout,
                    trust_env=False,
                )
            )
            for _ in range(spec.concurrency)
        ]
        cpu0, started = time.process_time(), time.perf_counter()
        deadline = started + spec.seconds
        workers = (worker(client, deadline) for client in clients)
        # Bounded: no worker starts a request after the deadline, none waits past its timeout.
        await asyncio.wait_for(asyncio.gather(*workers), spec.seconds + spec.timeout + 5)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    latencies.sort()
    return LoadResult(
        ok=len(latencies) - len(errors),
        errors=len(errors),
        elapsed=elapsed,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        client_cpu=cpu / elapsed,
        first_error=errors[0] if errors else None,
    )
