"""How long from nothing to a served API with ``endcap demo``?

Run from the repository root::

    .venv/bin/python -m tests.perf.bench_demo [--skip-install] [--runs 2] [--keep]

Without ``--skip-install`` it clones the repository's committed HEAD into a
temporary directory (uncommitted changes are not part of the measurement),
creates a fresh virtualenv there with ``python3 -m venv`` and times
``pip install -e .`` from the configured package index. With
``--skip-install`` it reuses this checkout's ``.venv`` and times the demo only.

Then, per run, it launches ``endcap demo --port <free port> --dir <tmp>`` and
times, from the launch, until ``GET /health/ready`` answers 200 and until
``GET /schema/openapi.json`` answers 200, and stops the demo. The first run in
a fresh venv is the cold one (its own modules are not byte-compiled yet); later
runs show the warm start. Only 127.0.0.1 is contacted, besides pip's index.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.server import free_port

REPO = Path(__file__).resolve().parents[2]
POLL = 0.02  # seconds between probes: the resolution of the demo timings


def timed(label: str, command: list[str], cwd: Path, log: Path, timeout: float) -> float:
    print(f"{label}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    with log.open("ab") as out:
        done = subprocess.run(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}):\n{log.read_text()[-3000:]}")
    return seconds


def install(root: Path, python: str) -> tuple[Path, dict[str, float]]:
    """Clone HEAD, make a venv, ``pip install -e .``; the endcap script and the step times."""
    log = root / "install.log"
    checkout = root / "endcap"
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"cloning {REPO} at HEAD {head}; {python} is Python {_version(python)}")
    times = {
        "git clone": timed(
            "clone", ["git", "clone", "--quiet", str(REPO), str(checkout)], root, log, 120
        ),
        "python3 -m venv": timed("venv", [python, "-m", "venv", ".venv"], checkout, log, 120),
    }
    pip = [str(checkout / ".venv/bin/python"), "-m", "pip"]
    pip_version = subprocess.run([*pip, "--version"], capture_output=True, text=True, check=False)
    print(f"  {pip_version.stdout.strip()}")
    times["pip install -e ."] = timed("install", [*pip, "install", "-e", "."], checkout, log, 900)
    return checkout / ".venv/bin/endcap", times


def _version(python: str) -> str:
    out = subprocess.run([python, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().removeprefix("Python ") or "?"


def _poll(
    client: httpx.Client, url: str, deadline: float, process: subprocess.Popen[bytes]
) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the demo exited early ({process.returncode})")
        try:
            if client.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL)
    raise TimeoutError(f"{url} did not answer 200 in time")


def time_demo(endcap: Path, root: Path, run: int, timeout: float) -> tuple[float, float]:
    """Seconds from launch to /health/ready 200, and to the OpenAPI document."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = root / f"demo-{run}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENDCAP_")}
    command = [str(endcap), "demo", "--port", str(port), "--dir", str(root / f"demo-{run}")]
    with log.open("wb") as out, httpx.Client(timeout=2, trust_env=False) as client:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = started + timeout
            _poll(client, f"{base}/health/ready", deadline, process)
            ready = time.monotonic() - started
            _poll(client, f"{base}/schema/openapi.json", deadline, process)
            openapi = time.monotonic() - started
        except (RuntimeError, TimeoutError) as exc:
            raise SystemExit(f"run {run}: {exc}\n{log.read_text()[-3000:]}") from exc
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return ready, openapi


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--skip-install", action="store_true", help=f"use {REPO / '.venv'}")
    parser.add_argument("--python", default="python3", help="interpreter for the fresh venv")
    parser.add_argument("--runs", type=int, default=2, help="demo launches to time (1st = cold)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per demo launch")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print(f"machine: nproc={os.cpu_count()}  loadavg={os.getloadavg()}")
    print(f"python {platform.python_version()} ({sys.executable})")
    root = Path(tempfile.mkdtemp(prefix="endcap-demo-bench-"))
    try:
        if args.skip_install:
            endcap, steps = REPO / ".venv/bin/endcap", {}
        else:
            endcap, steps = install(root, args.python)
        print(f"demo: {endcap} demo --port <free> --dir {root}/demo-N  (ENDCAP_* unset)")
        demos = [time_demo(endcap, root, run, args.timeout) for run in range(1, args.runs + 1)]
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print()
    for step, seconds in steps.items():
        print(f"{step:<28}{seconds:>8.2f} s")
    for run, (ready, openapi) in enumerate(demos, start=1):
        kind = "cold" if run == 1 and steps else "warm"
        print(f"demo run {run} ({kind}) to ready{ready:>11.2f} s   to OpenAPI {openapi:.2f} s")
    total = sum(steps.values()) + demos[0][0]
    if steps:
        print(f"{'install (pip install -e .)':<28}{steps['pip install -e .']:>8.2f} s")
    else:
        print(f"{'install (pip install -e .)':<28}{'skipped':>8}")
    print(f"{'demo to ready (run 1)':<28}{demos[0][0]:>8.2f} s")
    print(f"{'total (all steps + run 1)':<28}{total:>8.2f} s")


if __name__ == "__main__":
    main()
