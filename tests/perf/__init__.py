"""Benchmarks: ``python -m tests.perf.bench_api`` and ``python -m tests.perf.bench_demo``."""
