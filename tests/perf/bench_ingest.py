"""Transaction-line ingest into PostgreSQL, lines per second, next to raw COPY.

Run from the repository root (needs PostgreSQL at ``ENDCAP_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``)::

    .venv/bin/python -m tests.perf.bench_ingest [--lines 1000000 10000000] [--keep-files DIR]

For each size it generates a synthetic retailer (``endcap.synthetic.generate``,
about ``lines / 30`` profiles at 30 lines per profile per year) whose
transactions file holds about that many lines, creates a throwaway database,
migrates it, and loads products, stores, customers and identifiers through
``IngestService`` exactly as ``endcap ingest`` does (``standalone_session``,
``IngestService(session, settings).load(entity, path)``; one process per file).
Then, on the same database and the same CSV file, it times:

  raw COPY    asyncpg ``copy_to_table`` of the file into a bare table of the natural
              column types, no key, no index: the floor the issue's goal is set against
  COPY + PK   the same into a table with the primary key of ``transactions``
              (transaction_id, line_no as text): what the key alone costs
  tx-shaped   the same into ``CREATE TABLE ... (LIKE transactions INCLUDING ALL)``
              (line_no into line_ref, profile_id left NULL): what the target table costs
  endcap      ``IngestService.load("transactions", file)`` end to end, commit included:
              stream, validate, COPY into a temporary staging table, set-based duplicate
              and reference checks, one INSERT ... SELECT joined to customers for profile_id
  reload      the same file loaded again: must insert 0 and update 0 (idempotent upsert)
  raw COPY 2  raw COPY once more after the Endcap loads (a second sample of the floor)

The ratio is Endcap's lines/s over the faster raw COPY sample (the goal in issue 3 is
at least 0.7). Each Endcap load runs in a fresh (spawned) process, so its peak RSS
(``ru_maxrss``) is its own; the process's RSS right after start-up is printed next to
it. The phases of an Endcap load are timed by wrapping the service's steps in that
process (nothing in ``src`` is changed); "other" is the rest of the load. CPU columns:
the loading process and its PostgreSQL backend, in CPU seconds over wall seconds; host
is the share of all cores busy meanwhile (other work on a shared machine shows there).
A CHECKPOINT precedes every timed step. The machines are small and noisy: read the
ratios, not the absolute numbers. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import inspect
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy import text

from endcap.config import DatabaseSettings, Settings
from endcap.db import migrate
from endcap.db.session import standalone_session
from endcap.ingest.service import IngestService
from tests.perf.launcher import cpu_seconds, host_busy
from tests.support import databases

LINES_PER_PROFILE = 30  # the generator's default: 30 lines per profile per year
PREREQUISITES = ("products", "stores", "customers", "identifiers")
# Rough bytes per transaction line: ~85 in the CSV; the database holds at most the target
# table with its indexes, the staging table, one baseline table and WAL at a time.
CSV_BYTES_PER_LINE = 90
DB_BYTES_PER_LINE = 700
FILE_COLUMNS = (
    "transaction_id", "line_no", "occurred_at", "sku", "quantity", "sales_value",
    "customer_id", "store_id", "channel", "discount",
)  # fmt: skip
NATURAL_TYPES = {
    "transaction_id": "varchar(64)",
    "line_no": "integer",
    "occurred_at": "timestamptz",
    "sku": "varchar(64)",
    "quantity": "numeric(12,3)",
    "sales_value": "numeric(14,2)",
    "customer_id": "varchar(128)",
    "store_id": "varchar(64)",
    "channel": "varchar(16)",
    "discount": "numeric(14,2)",
}


# -- running a step in a fresh process ------------------------------------------------------


class StepFailedError(RuntimeError):
    pass


def _child_entry(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def in_child(label: str, timeout: float, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a freshly spawned process, killed after ``timeout`` seconds."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child_entry, args=(send, fn, args), name=f"bench {label}")
    process.start()
    send.close()
    try:
        if not receive.poll(timeout):
            raise StepFailedError(f"{label}: no result within {timeout:.0f} s (child killed)")
        try:
            status, payload = receive.recv()
        except EOFError:
            process.join(10)
            raise StepFailedError(
                f"{label}: the child process died without a result (exit code "
                f"{process.exitcode}; -9 is SIGKILL, e.g. the kernel's OOM killer)"
            ) from None
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
    if status != "ok":
        raise StepFailedError(f"{label} failed in the child process:\n{payload}")
    return payload


def vm_kib(field_name: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: now, VmHWM: peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- phase timing by wrapping (in the child only) -------------------------------------------


@dataclass
class Phases:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    missing: list[str] = field(default_factory=list)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1

    def wrap(self, owner: Any, attr: str, name: str, *, iterator: bool = False) -> None:
        """Time every call of ``owner.attr`` (sync, async, or returning an iterator)."""
        original = getattr(owner, attr, None)
        if original is None:
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return
        phases = self
        wrapper: Callable[..., Any]
        if iterator:

            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
                started = time.perf_counter()
                inner = iter(original(*args, **kwargs))
                phases.add(name, time.perf_counter() - started)
                return _timed_iterator(inner, phases, name)

        elif inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    phases.add(name, time.perf_counter() - started)

        else:

            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    phases.add(name, time.perf_counter() - started)

        setattr(owner, attr, wrapper)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": dict(self.seconds),
            "calls": dict(self.calls),
            "missing": list(self.missing),
        }


def _timed_iterator(inner: Iterator[Any], phases: Phases, name: str) -> Iterator[Any]:
    while True:
        started = time.perf_counter()
        try:
            item = next(inner)
        except StopIteration:
            phases.add(name, time.perf_counter() - started)
            return
        phases.add(name, time.perf_counter() - started)
        yield item


def instrument_ingest(phases: Phases) -> None:
    """Wrap the steps of ``IngestService.load`` (names looked up at call time)."""
    from endcap.ingest import service  # noqa: PLC0415
    from endcap.ingest.repository import IngestRepository  # noqa: PLC0415
    from endcap.ingest.staging import StagingArea  # noqa: PLC0415

    phases.wrap(service, "chunks", "read+parse CSV", iterator=True)
    phases.wrap(service, "check_chunk", "validate")
    phases.wrap(service, "prepare", "prepare")
    phases.wrap(StagingArea, "create", "staging create/drop")
    phases.wrap(StagingArea, "drop", "staging create/drop")
    phases.wrap(StagingArea, "add", "COPY into staging")
    phases.wrap(StagingArea, "analyze", "ANALYZE staging")
    phases.wrap(service.IngestService, "_duplicates", "duplicate check")
    phases.wrap(service.IngestService, "_references", "reference check")
    phases.wrap(service, "apply", "apply (upsert)")
    phases.wrap(service, "resolve", "key chains (resolve)")
    phases.wrap(IngestRepository, "lock", "advisory locks")
    phases.wrap(IngestRepository, "add", "ingest run record")


# -- one Endcap load, in a child ------------------------------------------------------------


def settings_for(url: str) -> Settings:
    settings = Settings()
    settings.database = DatabaseSettings(url=url)
    return settings


def load_in_child(url: str, entity: str, path: str, instrument: bool) -> dict[str, Any]:
    return asyncio.run(_load(url, entity, Path(path), instrument))


async def _load(url: str, entity: str, path: Path, instrument: bool) -> dict[str, Any]:
    settings = settings_for(url)
    phases = Phases()
    if instrument:
        instrument_ingest(phases)
    rss_start = vm_kib("VmRSS")
    busy0, cpu0 = host_busy(), own_cpu()
    started = time.perf_counter()
    async with standalone_session(settings.database) as session:
        backend = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        backend_cpu0 = cpu_seconds(backend)
        loading = time.perf_counter()
        report = await IngestService(session, settings).load(entity, path)
        loaded = time.perf_counter()
        backend_cpu = cpu_seconds(backend) - backend_cpu0
    finished = time.perf_counter()
    cpu, busy1 = own_cpu() - cpu0, host_busy()
    return {
        "entity": entity,
        "seconds": finished - started,
        "load_seconds": loaded - loading,
        "commit_seconds": finished - loaded,
        "cpu_seconds": cpu,
        "backend_cpu_seconds": backend_cpu,
        "host_busy": (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9),
        "rss_start_kib": rss_start,
        "peak_rss_kib": peak_rss_kib(),
        "phases": phases.as_dict(),
        "status": report.status,
        "rows_read": report.rows_read,
        "inserted": report.rows_inserted,
        "updated": report.rows_updated,
        "rejected": report.rows_rejected,
        "chunks": report.chunks,
        "rejections": [r.model_dump() for r in report.rejections[:5]],
        "resolution": report.resolution,
    }


def endcap_load(url: str, entity: str, path: Path, timeout: float) -> dict[str, Any]:
    """One file through IngestService in its own process; fails loudly on a rejected file."""
    checkpoint(url)
    result: dict[str, Any] = in_child(
        f"load {entity}", timeout, load_in_child, url, entity, str(path), True
    )
    if result["status"] != "loaded":
        raise StepFailedError(
            f"load of {entity} from {path} was {result['status']}: "
            f"{result['rejected']} rejected, first: {result['rejections']}"
        )
    return result


def describe_load(result: dict[str, Any]) -> str:
    line = (
        f"{result['rows_read']:,} rows in {result['seconds']:.1f} s "
        f"(+{result['inserted']:,} ~{result['updated']:,}, {result['chunks']} chunks; "
        f"peak RSS {result['peak_rss_kib'] / 1024:,.0f} MiB)"
    )
    if result["resolution"]:
        r = result["resolution"]
        line += (
            f"\n      key chains: {r['customers']:,} records -> {r['profiles']:,} profiles, "
            f"{r['merges']:,} merges, {r['shared_identifiers']} shared flagged"
        )
    return line


def print_phases(title: str, result: dict[str, Any]) -> None:
    phases = result["phases"]
    total = result["seconds"]
    print(f"  {title}: {total:,.1f} s end to end")
    rows: list[tuple[str, float, int]] = sorted(
        ((n, s, phases["calls"][n]) for n, s in phases["seconds"].items()), key=lambda r: -r[1]
    )
    rows.append(("commit (+ engine dispose)", result["commit_seconds"], 1))
    rest = total - sum(s for _, s, _ in rows)
    rows.append(("other (connect, run bookkeeping, Python glue)", rest, 0))
    for name, seconds, calls in rows:
        shown = f"{calls}x" if calls else ""
        print(f"    {name:<46}{seconds:>9.2f} s{seconds / total:>7.1%}  {shown}")
    if phases["missing"]:
        print(f"    (not found, so not timed: {', '.join(phases['missing'])})")


# -- the COPY baselines, from this process --------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def checkpoint(url: str) -> None:
    asyncio.run(fetch_sql(url, "CHECKPOINT"))


async def fetch_sql(url: str, sql: str, *params: Any) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        return await conn.fetch(sql, *params)
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class Copied:
    name: str
    rows: int
    seconds: float
    backend_cpu_seconds: float
    host_busy: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def baseline_tables() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (CREATE TABLE, the table's columns the file's columns go into, in file order)."""
    raw = ", ".join(f"{c} {NATURAL_TYPES[c]}" for c in FILE_COLUMNS)
    keyed = ", ".join(
        f"{c} {'varchar(80)' if c == 'line_no' else NATURAL_TYPES[c]}" for c in FILE_COLUMNS
    )
    shaped = tuple("line_ref" if c == "line_no" else c for c in FILE_COLUMNS)
    return {
        "raw COPY": (f"CREATE TABLE bench_copy ({raw})", FILE_COLUMNS),
        "COPY + PK": (
            f"CREATE TABLE bench_copy ({keyed}, PRIMARY KEY (transaction_id, line_no))",
            FILE_COLUMNS,
        ),
        "tx-shaped": ("CREATE TABLE bench_copy (LIKE transactions INCLUDING ALL)", shaped),
    }


def copy_baseline(url: str, name: str, path: Path) -> Copied:
    create, columns = baseline_tables()[name]
    return asyncio.run(_copy(url, name, create, columns, path))


async def _copy(url: str, name: str, create: str, columns: tuple[str, ...], path: Path) -> Copied:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_copy")
        await conn.execute(create)
        await conn.execute("CHECKPOINT")
        backend = conn.get_server_pid()
        busy0, cpu0 = host_busy(), cpu_seconds(backend)
        started = time.perf_counter()
        status = await conn.copy_to_table(
            "bench_copy", source=path, columns=list(columns), format="csv", header=True
        )
        seconds = time.perf_counter() - started
        cpu, busy1 = cpu_seconds(backend) - cpu0, host_busy()
        await conn.execute("DROP TABLE bench_copy")
    finally:
        await conn.close()
    return Copied(
        name,
        int(status.split()[-1]),
        seconds,
        cpu,
        (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9),
    )


# -- files ----------------------------------------------------------------------------------


def generate_in_child(
    outdir: str, profiles: int, seed: int, lines_per_profile_year: float
) -> dict[str, Any]:
    from endcap.synthetic import generate  # noqa: PLC0415

    summary = generate(Path(outdir), profiles, seed, lines_per_profile_year=lines_per_profile_year)
    return {
        "profiles": profiles,
        "seed": seed,
        "lines_per_profile_year": lines_per_profile_year,
        "rows": summary.rows,
        "bytes": {f.entity: f.bytes for f in summary.files},
        "seconds": summary.seconds,
        "peak_rss_kib": peak_rss_kib(),
    }


def synthetic_files(
    outdir: Path, profiles: int, seed: int, lines_per_profile_year: float, timeout: float
) -> dict[str, Any]:
    """Generate into ``outdir``, or reuse what a previous run left there with the same inputs."""
    manifest_path = outdir / "bench-manifest.json"
    wanted = {"profiles": profiles, "seed": seed, "lines_per_profile_year": lines_per_profile_year}
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        paths_there = all((outdir / f"{e}.csv").exists() for e in manifest["rows"])
        if paths_there and all(manifest.get(k) == v for k, v in wanted.items()):
            print(f"  reusing the files in {outdir} ({manifest['rows']['transactions']:,} lines)")
            manifest["reused"] = True
            return manifest
    manifest = in_child(
        "generate", timeout, generate_in_child, str(outdir), profiles, seed, lines_per_profile_year
    )
    manifest_path.write_text(json.dumps(manifest, indent=1))
    manifest["reused"] = False
    return manifest


def check_header(path: Path) -> None:
    with path.open(encoding="utf-8") as handle:
        header = tuple(handle.readline().strip().split(","))
    if header != FILE_COLUMNS:
        raise SystemExit(f"{path}: unexpected header {header}; the baselines expect {FILE_COLUMNS}")


def check_disk(where: Path, need: int, what: str) -> None:
    free = shutil.disk_usage(where).free
    print(f"  disk: {free / 2**30:,.1f} GiB free at {where}; {what}: about {need / 2**30:.1f} GiB")
    if free < need * 1.5:
        raise SystemExit(f"not enough free disk at {where} for {what}: stopping before writing")


def postgres_data_dir() -> Path:
    try:
        rows = asyncio.run(fetch_sql(databases.POSTGRES_ADMIN_URL, "SHOW data_directory"))
        folder = Path(rows[0][0])
        shutil.disk_usage(folder)
    except (OSError, asyncpg.PostgresError):
        return Path("/")
    return folder


# -- facts ----------------------------------------------------------------------------------


def print_facts(extra_libs: tuple[str, ...] = ()) -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    mem = next(
        (
            int(line.split()[1]) / 2**20
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0.0,
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: nproc={os.cpu_count()}  cpu={cpu}  mem={mem:.1f} GiB  loadavg=({load})")
    print(f"python {platform.python_version()} ({sys.executable})")
    libs = ("sqlalchemy", "asyncpg", "pyarrow", "numpy", *extra_libs)
    print("versions: " + "  ".join(f"{lib} {version(lib)}" for lib in libs))
    names = (
        "server_version",
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "max_wal_size",
        "synchronous_commit",
        "fsync",
        "wal_level",
    )
    rows = asyncio.run(
        fetch_sql(
            databases.POSTGRES_ADMIN_URL,
            "SELECT name, current_setting(name) AS value FROM pg_settings"
            " WHERE name = ANY($1) ORDER BY name",
            list(names),
        )
    )
    shown = "  ".join(f"{r['name']}={r['value']}" for r in rows)
    print(f"postgres at {urlsplit(databases.POSTGRES_ADMIN_URL).netloc}: {shown}")
    ingest = Settings().ingest
    print(
        f"endcap ingest settings: chunk_bytes={ingest.chunk_bytes:,}"
        f" chunk_rows={ingest.chunk_rows:,} rejection_cap={ingest.rejection_cap}"
    )


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


# -- one size -------------------------------------------------------------------------------


@dataclass
class SizeResult:
    lines: int
    copies: list[Copied]
    endcap: dict[str, Any]
    reload: dict[str, Any] | None
    prerequisites: dict[str, dict[str, Any]]
    generation: dict[str, Any]

    def rate(self, name: str) -> float:
        rates = [c.rate for c in self.copies if c.name == name]
        return max(rates) if rates else float("nan")

    @property
    def endcap_rate(self) -> float:
        return float(self.endcap["rows_read"]) / float(self.endcap["seconds"])


def run_size(target: int, args: argparse.Namespace, outdir: Path) -> SizeResult:
    profiles = max(target // LINES_PER_PROFILE, 1)
    print(f"\n== {target:,} lines: {profiles:,} profiles, seed {args.seed} ==", flush=True)
    check_disk(outdir if outdir.exists() else outdir.parent, target * CSV_BYTES_PER_LINE, "CSV")
    gen = synthetic_files(outdir, profiles, args.seed, float(LINES_PER_PROFILE), args.timeout)
    lines = int(gen["rows"]["transactions"])
    path = outdir / "transactions.csv"
    check_header(path)
    if not gen["reused"]:
        print(
            f"  generated in {gen['seconds']:.1f} s: "
            + ", ".join(f"{e} {n:,}" for e, n in gen["rows"].items())
            + f"; transactions.csv {gen['bytes']['transactions'] / 2**20:,.0f} MiB"
        )
    check_disk(postgres_data_dir(), lines * DB_BYTES_PER_LINE, "the database")
    url = databases.create_postgres_database("endcap_bench_ingest")
    try:
        migrate.upgrade(url)
        prerequisites: dict[str, dict[str, Any]] = {}
        for entity in PREREQUISITES:
            done = endcap_load(url, entity, outdir / f"{entity}.csv", args.timeout)
            prerequisites[entity] = done
            print(f"  load {entity:<12} {describe_load(done)}", flush=True)
        copies: list[Copied] = []
        for name in ("raw COPY", "COPY + PK", "tx-shaped"):
            checkpoint(url)
            copies.append(copy_baseline(url, name, path))
            c = copies[-1]
            print(f"  {name:<17} {c.rows:,} rows in {c.seconds:.1f} s: {c.rate:,.0f} lines/s")
        endcap = endcap_load(url, "transactions", path, args.timeout)
        rate = endcap["rows_read"] / endcap["seconds"]
        print(f"  endcap load       {describe_load(endcap)}: {rate:,.0f} lines/s", flush=True)
        if endcap["inserted"] != lines:
            raise StepFailedError(f"endcap inserted {endcap['inserted']:,} of {lines:,} lines")
        reload = None
        if not args.no_reload:
            reload = endcap_load(url, "transactions", path, args.timeout)
            print(f"  endcap reload     {describe_load(reload)}", flush=True)
        copies.append(copy_baseline(url, "raw COPY", path))
        c = copies[-1]
        print(f"  raw COPY (again)  {c.rows:,} rows in {c.seconds:.1f} s: {c.rate:,.0f} lines/s")
    finally:
        databases.drop_postgres_database(url)
    return SizeResult(lines, copies, endcap, reload, prerequisites, gen)


def print_table(results: list[SizeResult]) -> None:
    print(
        f"\n{'lines':>11}{'endcap l/s':>12}{'raw COPY l/s':>14}{'ratio':>7}{'COPY+PK l/s':>13}"
        f"{'tx-shaped l/s':>15}{'endcap s':>10}{'reload s':>10}{'peak RSS MiB':>14}"
    )
    for r in results:
        raw = r.rate("raw COPY")
        reload = f"{r.reload['seconds']:.1f}" if r.reload else "-"
        print(
            f"{r.lines:>11,}{r.endcap_rate:>12,.0f}{raw:>14,.0f}{r.endcap_rate / raw:>7.2f}"
            f"{r.rate('COPY + PK'):>13,.0f}{r.rate('tx-shaped'):>15,.0f}"
            f"{r.endcap['seconds']:>10.1f}{reload:>10}{mib(r.endcap['peak_rss_kib']):>14}"
        )
    print(
        "ratio: endcap lines/s over the faster of the two raw COPY samples (goal >= 0.70).\n"
        "raw COPY samples: "
        + "; ".join(
            f"{r.lines:,}: " + ", ".join(f"{c.rate:,.0f}" for c in r.copies if c.name == "raw COPY")
            for r in results
        )
    )
    print(
        f"\n{'step':<28}{'lines':>11}{'wall s':>9}{'lines/s':>11}{'proc cpu':>9}"
        f"{'pg cpu':>8}{'host':>6}{'RSS start':>10}{'RSS peak':>9}"
    )
    for r in results:
        for c in r.copies:
            print(
                f"{c.name:<28}{c.rows:>11,}{c.seconds:>9.1f}{c.rate:>11,.0f}{'-':>9}"
                f"{c.backend_cpu_seconds / c.seconds:>8.0%}{c.host_busy:>6.0%}{'-':>10}{'-':>9}"
            )
        for name, load in (("endcap load", r.endcap), ("endcap reload (no change)", r.reload)):
            if load is None:
                continue
            s = load["seconds"]
            print(
                f"{name:<28}{load['rows_read']:>11,}{s:>9.1f}{load['rows_read'] / s:>11,.0f}"
                f"{load['cpu_seconds'] / s:>9.0%}{load['backend_cpu_seconds'] / s:>8.0%}"
                f"{load['host_busy']:>6.0%}{mib(load['rss_start_kib']):>10}"
                f"{mib(load['peak_rss_kib']):>9}"
            )
    print("RSS in MiB; cpu = CPU seconds over wall seconds (100% = one core).")
    for r in results:
        print(f"\nphases at {r.lines:,} lines (timed inside the loading process):")
        print_phases("endcap load", r.endcap)
        if r.reload is not None:
            print(f"    reload inserted {r.reload['inserted']:,}, updated {r.reload['updated']:,}")
            print_phases("endcap reload", r.reload)


@contextlib.contextmanager
def workdir(keep: Path | None, name: str) -> Iterator[Path]:
    """``keep/name``, kept for a later run; without ``keep``, a scratch folder removed after."""
    if keep is not None:
        folder = keep / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix=f"endcap-bench-{name}-"))
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--lines",
        type=int,
        nargs="+",
        default=[1_000_000, 10_000_000],
        help="transaction lines per run (about; the generator decides exactly)",
    )
    parser.add_argument(
        "--keep-files",
        type=Path,
        default=None,
        metavar="DIR",
        help="generate into DIR/ingest-<lines>-seed<seed> and keep (reused by a later run)",
    )
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--no-reload", action="store_true", help="skip the idempotent reload")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds any one step may take"
    )
    args = parser.parse_args(argv)
    print_facts()
    results: list[SizeResult] = []
    for target in args.lines:
        with workdir(args.keep_files, f"ingest-{target}-seed{args.seed}") as outdir:
            results.append(run_size(target, args, outdir))
    print_table(results)


if __name__ == "__main__":
    main()
