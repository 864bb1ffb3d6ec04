"""Key-chain resolution of 1M profiles (about 3.6M identifiers): time and peak memory.

Run from the repository root (needs PostgreSQL at ``ENDCAP_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``)::

    .venv/bin/python -m tests.perf.bench_keychains [--profiles 1000000] [--keep-files DIR]

It generates a synthetic retailer of ``--profiles`` people (``endcap.synthetic.generate``;
at 1 line per profile per year by default: the transactions file is not used here, and
the customers and identifiers do not depend on it), creates a throwaway database,
migrates it, and loads customers and then identifiers through ``IngestService`` as
``endcap ingest`` does, one process per file. Each of those loads re-resolves key
chains in its own transaction (the load times include that). Then it times:

  resolve    ``endcap.identity.resolution.resolve(session, shared_threshold=5)`` on its
             own, in a fresh process and its own transaction, committed: a full
             re-resolution over the loaded data (nothing changes, so it moves no
             customer and records no merge; it still reads, computes and compares all)
  in memory  the same computation without the database: the edge arrays are fetched
             once (timed apart), then ``components()`` (searchsorted, the sparse graph,
             scipy ``connected_components``), ``connected_components`` alone on the
             prebuilt graph, and ``assign()`` are timed on the arrays in memory

The phases of the resolve are timed by wrapping ``IdentityRepository``'s methods and
the resolution's ``components`` and ``assign`` in that process (``src`` is not
changed). Peak RSS is ``ru_maxrss`` of each step's own process, next to its RSS right
after start-up. Correctness: with shared identifiers set aside, the generator links
exactly the records of one person, so the number of profiles must equal the number of
people generated. The machines are small and noisy: read ratios, not absolute
numbers. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from endcap.db import migrate
from endcap.db.session import standalone_session
from tests.perf.bench_ingest import (
    Phases,
    check_disk,
    checkpoint,
    describe_load,
    endcap_load,
    fetch_sql,
    in_child,
    mib,
    own_cpu,
    peak_rss_kib,
    postgres_data_dir,
    print_facts,
    print_phases,
    settings_for,
    synthetic_files,
    vm_kib,
)
from tests.perf.launcher import cpu_seconds, host_busy
from tests.support import databases

# Bytes per profile, generously: ~270 of CSV (customers, identifiers, consents, a line of
# transactions) and ~1,000 in the database (customers, identifiers, profiles, indexes, WAL).
CSV_BYTES_PER_PROFILE = 600
DB_BYTES_PER_PROFILE = 1500
REPOSITORY_PHASES = {
    "flag_shared": "flag shared identifiers (SQL)",
    "customers": "fetch customers + profile ids",
    "linking_edges": "fetch linking edges (dense_rank)",
    "next_profile_id": "next profile id",
    "add_profiles": "add new profiles (COPY)",
    "move_customers": "move customers (UPDATE x2)",
    "record_merges": "record merges",
    "drop_profiles_without_customers": "drop merged-away profiles",
}


# -- the resolve on its own, in a child -----------------------------------------------------


def resolve_in_child(url: str, threshold: int) -> dict[str, Any]:
    return asyncio.run(_resolve(url, threshold))


async def _resolve(url: str, threshold: int) -> dict[str, Any]:
    from endcap.identity import resolution  # noqa: PLC0415
    from endcap.identity.repository import IdentityRepository  # noqa: PLC0415

    phases = Phases()
    for attr, name in REPOSITORY_PHASES.items():
        phases.wrap(IdentityRepository, attr, name)
    phases.wrap(resolution, "components", "components (searchsorted + scipy)")
    phases.wrap(resolution, "assign", "assign profile ids")
    settings = settings_for(url)
    rss_start = vm_kib("VmRSS")
    busy0, cpu0 = host_busy(), own_cpu()
    started = time.perf_counter()
    async with standalone_session(settings.database) as session:
        backend = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        backend_cpu0 = cpu_seconds(backend)
        report = await resolution.resolve(session, shared_threshold=threshold)
        resolved = time.perf_counter()
        backend_cpu = cpu_seconds(backend) - backend_cpu0
    finished = time.perf_counter()
    cpu, busy1 = own_cpu() - cpu0, host_busy()
    return {
        "seconds": finished - started,
        "commit_seconds": finished - resolved,
        "cpu_seconds": cpu,
        "backend_cpu_seconds": backend_cpu,
        "host_busy": (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9),
        "rss_start_kib": rss_start,
        "peak_rss_kib": peak_rss_kib(),
        "phases": phases.as_dict(),
        "report": report.as_dict(),
    }


# -- the in-memory baseline, in a child -----------------------------------------------------


def in_memory_in_child(url: str) -> dict[str, Any]:
    return asyncio.run(_in_memory(url))


async def _in_memory(url: str) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415
    from scipy.sparse import coo_matrix  # noqa: PLC0415
    from scipy.sparse.csgraph import connected_components  # noqa: PLC0415

    from endcap.identity.repository import IdentityRepository  # noqa: PLC0415
    from endcap.identity.resolution import assign, components  # noqa: PLC0415

    settings = settings_for(url)
    rss_start = vm_kib("VmRSS")
    out: dict[str, Any] = {"rss_start_kib": rss_start}
    async with standalone_session(settings.database) as session:
        repository = IdentityRepository(session)
        started = time.perf_counter()
        customer_ids, current = await repository.customers()
        out["fetch_customers_s"] = time.perf_counter() - started
        started = time.perf_counter()
        edge_customers, edge_idents = await repository.linking_edges()
        out["fetch_edges_s"] = time.perf_counter() - started
        next_id = await repository.next_profile_id()
    out["rss_after_fetch_kib"] = vm_kib("VmRSS")
    out["peak_after_fetch_kib"] = peak_rss_kib()
    out["customers"] = len(customer_ids)
    out["edges"] = len(edge_customers)
    out["identifiers"] = int(edge_idents.max()) if len(edge_idents) else 0
    array_bytes = customer_ids.nbytes + current.nbytes + edge_customers.nbytes
    out["array_mib"] = (array_bytes + edge_idents.nbytes) / 2**20

    started = time.perf_counter()
    labels = components(customer_ids, edge_customers, edge_idents)
    out["components_s"] = time.perf_counter() - started

    # The same graph as components() builds, then connected_components alone.
    started = time.perf_counter()
    n = len(customer_ids)
    rows = np.searchsorted(customer_ids, edge_customers)
    size = n + out["identifiers"]
    graph = coo_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, n + edge_idents - 1)), shape=(size, size)
    ).tocsr()
    out["build_graph_s"] = time.perf_counter() - started
    started = time.perf_counter()
    _, raw_labels = connected_components(graph, directed=False)
    out["connected_components_s"] = time.perf_counter() - started
    out["raw_components_with_customers"] = len(np.unique(raw_labels[:n]))
    del graph, raw_labels, rows

    started = time.perf_counter()
    assigned, history, _ = assign(customer_ids, current, labels, next_id)
    out["assign_s"] = time.perf_counter() - started
    out["components"] = len(np.unique(labels))
    out["unchanged"] = bool(np.array_equal(assigned, current))
    out["history"] = len(history)
    out["peak_rss_kib"] = peak_rss_kib()
    return out


# -- the run --------------------------------------------------------------------------------


async def _counts(url: str) -> dict[str, int]:
    tables = ("customers", "identifiers", "profiles", "shared_identifiers", "profile_merges")
    counts: dict[str, int] = {}
    for table in tables:  # our own fixed names
        rows = await fetch_sql(url, f"SELECT count(*) FROM {table}")  # noqa: S608
        counts[table] = int(rows[0][0])
    return counts


def print_resolve(resolved: dict[str, Any]) -> None:
    phases, total = resolved["phases"], resolved["seconds"]
    print(f"\nphases of the resolve ({total:,.1f} s end to end, timed inside its process):")
    rows = sorted(
        ((n, s, phases["calls"][n]) for n, s in phases["seconds"].items()), key=lambda r: -r[1]
    )
    rows.append(("commit (+ engine dispose)", resolved["commit_seconds"], 1))
    rows.append(("other", total - sum(s for _, s, _ in rows), 0))
    for name, seconds, calls in rows:
        shown = f"{calls}x" if calls else ""
        print(f"  {name:<40}{seconds:>9.2f} s{seconds / total:>7.1%}  {shown}")
    if phases["missing"]:
        print(f"  (not found, so not timed: {', '.join(phases['missing'])})")


def run(args: argparse.Namespace, outdir: Path) -> None:
    print(f"\n== {args.profiles:,} profiles, seed {args.seed} ==", flush=True)
    where = outdir if outdir.exists() else outdir.parent
    check_disk(where, args.profiles * CSV_BYTES_PER_PROFILE, "the CSV files")
    gen = synthetic_files(
        outdir, args.profiles, args.seed, args.lines_per_profile_year, args.timeout
    )
    if not gen["reused"]:
        print(
            f"  generated in {gen['seconds']:.1f} s (peak RSS {mib(gen['peak_rss_kib'])} MiB): "
            + ", ".join(f"{e} {n:,}" for e, n in gen["rows"].items())
        )
    check_disk(postgres_data_dir(), args.profiles * DB_BYTES_PER_PROFILE, "the database")
    url = databases.create_postgres_database("endcap_bench_keychains")
    try:
        migrate.upgrade(url)
        loads: dict[str, dict[str, Any]] = {}
        for entity in ("customers", "identifiers"):
            loads[entity] = endcap_load(url, entity, outdir / f"{entity}.csv", args.timeout)
            print(f"  load {entity:<12} {describe_load(loads[entity])}", flush=True)
        checkpoint(url)
        resolved: dict[str, Any] = in_child(
            "resolve", args.timeout, resolve_in_child, url, args.threshold
        )
        print(f"  resolve           {resolved['seconds']:.1f} s: {resolved['report']}", flush=True)
        counts = asyncio.run(_counts(url))
        memory: dict[str, Any] = in_child("in-memory", args.timeout, in_memory_in_child, url)
        print(
            f"  in memory         components() {memory['components_s']:.2f} s, "
            f"assign() {memory['assign_s']:.2f} s",
            flush=True,
        )
    finally:
        databases.drop_postgres_database(url)
    print_summary(args, gen, loads, resolved, memory, counts)


def print_summary(
    args: argparse.Namespace,
    gen: dict[str, Any],
    loads: dict[str, dict[str, Any]],
    resolved: dict[str, Any],
    memory: dict[str, Any],
    counts: dict[str, int],
) -> None:
    report = resolved["report"]
    print(
        f"\n{'step':<38}{'rows':>11}{'wall s':>9}{'proc cpu':>9}{'pg cpu':>8}{'host':>6}"
        f"{'RSS start':>10}{'RSS peak':>9}"
    )
    for entity, load in loads.items():
        s = load["seconds"]
        print(
            f"{'load ' + entity + ' (incl. resolve)':<38}{load['rows_read']:>11,}{s:>9.1f}"
            f"{load['cpu_seconds'] / s:>9.0%}{load['backend_cpu_seconds'] / s:>8.0%}"
            f"{load['host_busy']:>6.0%}{mib(load['rss_start_kib']):>10}"
            f"{mib(load['peak_rss_kib']):>9}"
        )
    s = resolved["seconds"]
    print(
        f"{'resolve (full re-resolution)':<38}{report['customers']:>11,}{s:>9.1f}"
        f"{resolved['cpu_seconds'] / s:>9.0%}{resolved['backend_cpu_seconds'] / s:>8.0%}"
        f"{resolved['host_busy']:>6.0%}{mib(resolved['rss_start_kib']):>10}"
        f"{mib(resolved['peak_rss_kib']):>9}"
    )
    print("RSS in MiB; cpu = CPU seconds over wall seconds (100% = one core).")

    print(
        f"\nresolution: {report['customers']:,} customer records -> {report['profiles']:,} "
        f"profiles; {report['merges']} merges, {report['splits']} splits, "
        f"{report['new_profiles']} new profiles, {report['customers_moved']} records moved, "
        f"{report['shared_identifiers']} shared identifiers flagged"
    )
    print(
        "database after: "
        + ", ".join(f"{table} {n:,}" for table, n in counts.items())
        + f"; {gen['rows']['identifiers'] / gen['profiles']:.2f} identifiers per person"
    )
    people = int(gen["profiles"])
    ok = report["profiles"] == people == counts["profiles"] == memory["components"]
    print(
        f"correctness: profiles {report['profiles']:,} (profiles table {counts['profiles']:,}, "
        f"in-memory components {memory['components']:,}) vs people generated {people:,}: "
        f"{'OK' if ok else 'MISMATCH'}"
    )

    print(
        f"\nin memory, same data ({memory['customers']:,} customers, {memory['edges']:,} linking "
        f"edges over {memory['identifiers']:,} identifiers; arrays {memory['array_mib']:.0f} MiB):"
    )
    fetch = memory["fetch_customers_s"] + memory["fetch_edges_s"]
    compute = memory["components_s"] + memory["assign_s"]
    for name, seconds in (
        ("fetch customers (SQL -> numpy)", memory["fetch_customers_s"]),
        ("fetch linking edges (SQL -> numpy)", memory["fetch_edges_s"]),
        ("components(): searchsorted + graph + scipy", memory["components_s"]),
        ("  of which: build the CSR graph", memory["build_graph_s"]),
        ("  of which: connected_components alone", memory["connected_components_s"]),
        ("assign()", memory["assign_s"]),
    ):
        print(f"  {name:<44}{seconds:>8.2f} s")
    print(
        f"  RSS: {mib(memory['rss_start_kib'])} MiB at start, "
        f"{mib(memory['rss_after_fetch_kib'])} after the fetch "
        f"(peak {mib(memory['peak_after_fetch_kib'])}), peak overall {mib(memory['peak_rss_kib'])}"
    )
    print(f"  scipy alone: {memory['raw_components_with_customers']:,} components hold a customer")
    print(
        f"  resolve end to end {s:.1f} s = {s / max(memory['connected_components_s'], 1e-9):,.0f}x"
        f" connected_components alone, {s / max(compute, 1e-9):.1f}x the in-memory compute "
        f"(components + assign, {compute:.1f} s); the fetch alone is {fetch:.1f} s"
    )
    print_resolve(resolved)
    print("\nphases of the loads (timed inside each loading process):")
    for entity, load in loads.items():
        print_phases(f"load {entity}", load)
    if not ok:
        raise SystemExit("profile count does not match the people generated")
    if not memory["unchanged"]:
        print("note: the in-memory assign() would move customers after the resolve")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profiles", type=int, default=1_000_000, help="people to generate")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument(
        "--lines-per-profile-year",
        type=float,
        default=1.0,
        help="transaction lines per person (the file is not loaded; small keeps it small)",
    )
    parser.add_argument("--threshold", type=int, default=5, help="shared_threshold of resolve")
    parser.add_argument(
        "--keep-files",
        type=Path,
        default=None,
        metavar="DIR",
        help="generate into DIR/keychains-<profiles>-seed<seed> and keep (reused later)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds any one step may take"
    )
    args = parser.parse_args(argv)
    print_facts(("scipy",))
    if args.keep_files is not None:
        outdir = args.keep_files / f"keychains-{args.profiles}-seed{args.seed}"
        outdir.mkdir(parents=True, exist_ok=True)
        run(args, outdir)
        return
    tmp = Path(tempfile.mkdtemp(prefix="endcap-bench-keychains-"))
    try:
        run(args, tmp)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
