"""The CLV models at 100k and 1M profiles: fit and prediction times, peak memory, accuracy.

Run from the repository root::

    .venv/bin/python -m tests.perf.bench_clv [--profiles 100000 1000000] [--seed 0]

For each size, a fresh (spawned) process draws a customer base from the BG/NBD and Gamma-Gamma
generative processes with known parameters (``TRUE_BGNBD``, ``TRUE_GAMMA_GAMMA``: a grocery-like
base, time in weeks, customers acquired evenly over two years), then times
``endcap.traits.clv``: both fits, P(alive), expected transactions and the predicted 12-month
value, and the value tiers. Peak RSS is that process's ``ru_maxrss``, next to its RSS after the
imports and after the data were drawn.

Baseline: one evaluation of each model's log-likelihood at the true parameters
(``bgnbd_log_likelihood``, ``gamma_gamma_log_likelihood``, both per customer). A fit costs about
its number of evaluations times that (each of its evaluations also computes the gradient, and
works on distinct frequencies where it can), so the printed evaluation counts show whether time
goes to the optimiser or to the arithmetic.

Accuracy: the recovered parameters are printed next to the true ones, and the predictions are
checked against the next 12 months drawn from the same processes (the simulated customers'
actual future transactions and spend, and whether each was still alive), in aggregate.

Single-threaded numpy on a small, noisy machine: read ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from endcap.traits import clv

TRUE_BGNBD = clv.BGNBDParams(r=0.8, alpha=2.5, a=0.6, b=4.0)  # ~0.3 trips a week, heavy tail
TRUE_GAMMA_GAMMA = clv.GammaGammaParams(p=6.25, q=3.74, gamma=15.44)  # the CDNOW spend model
ACQUISITION_WEEKS = 104.0  # customers joined evenly over the last two years
HORIZON = clv.ONE_YEAR_IN_WEEKS

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Base:
    """A synthetic customer base, and what each customer actually does over the horizon."""

    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    age: NDArray[np.float64]
    monetary_value: NDArray[np.float64]  # mean repeat-transaction value; 0 where frequency is 0
    alive: NDArray[np.bool_]  # still active at the end of the calibration window
    future_transactions: NDArray[np.float64]
    future_spend: NDArray[np.float64]


def draw_base(n: int, seed: int) -> Base:
    """Customers from the BG/NBD and Gamma-Gamma generative processes.

    With purchase rate lambda, K ~ Poisson(lambda T) purchases would fall in (0, T]; the customer
    drops out after the N-th repeat purchase, N ~ Geometric(p), so x = min(K, N), and the time of
    the x-th of K uniform purchase times is T * Beta(x, K - x + 1).
    """
    rng = np.random.default_rng(seed)
    t = TRUE_BGNBD
    rate = rng.gamma(t.r, 1.0 / t.alpha, n)
    dropout = rng.beta(t.a, t.b, n)
    age = rng.uniform(0.0, ACQUISITION_WEEKS, n)
    would_buy = rng.poisson(rate * age)
    lifetime_purchases = rng.geometric(dropout)
    x = np.minimum(would_buy, lifetime_purchases)
    repeat = x > 0
    recency = np.zeros(n)
    recency[repeat] = age[repeat] * rng.beta(x[repeat], would_buy[repeat] - x[repeat] + 1)
    alive = lifetime_purchases > would_buy
    future = np.where(alive, np.minimum(rng.poisson(rate * HORIZON), lifetime_purchases - x), 0)

    g = TRUE_GAMMA_GAMMA
    spend_rate = rng.gamma(g.q, 1.0 / g.gamma, n)  # nu: each customer's inverse scale of spend
    monetary = np.zeros(n)
    monetary[repeat] = rng.gamma(g.p * x[repeat], 1.0 / (spend_rate[repeat] * x[repeat]))
    buys = future > 0
    future_spend = np.zeros(n)
    future_spend[buys] = rng.gamma(g.p * future[buys], 1.0 / spend_rate[buys])
    return Base(
        frequency=x.astype(np.float64),
        recency=recency,
        age=age,
        monetary_value=monetary,
        alive=alive,
        future_transactions=future.astype(np.float64),
        future_spend=future_spend,
    )


def timed(timings: dict[str, float], name: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    timings[name] = time.perf_counter() - start
    return result


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_size(n: int, seed: int) -> dict[str, Any]:
    rss_start = rss_kib()
    t: dict[str, float] = {}
    base = timed(t, "draw the synthetic base", lambda: draw_base(n, seed))
    rss_data = rss_kib()
    x, t_x, age, m = base.frequency, base.recency, base.age, base.monetary_value
    timed(
        t,
        "baseline: 1 BG/NBD log-likelihood",
        lambda: clv.bgnbd_log_likelihood(TRUE_BGNBD, x, t_x, age),
    )
    timed(
        t,
        "baseline: 1 Gamma-Gamma log-likelihood",
        lambda: clv.gamma_gamma_log_likelihood(TRUE_GAMMA_GAMMA, x, m),
    )
    bgnbd = timed(t, "fit BG/NBD", lambda: clv.fit_bgnbd(x, t_x, age))
    spend = timed(t, "fit Gamma-Gamma", lambda: clv.fit_gamma_gamma(x, m))
    alive = timed(t, "P(alive)", lambda: clv.probability_alive(bgnbd.params, x, t_x, age))
    expected = timed(
        t,
        "expected transactions, 12 months",
        lambda: clv.expected_transactions(bgnbd.params, x, t_x, age, HORIZON),
    )
    value = timed(
        t,
        "predicted 12-month value",
        lambda: clv.predicted_value(bgnbd.params, spend.params, x, t_x, age, m, horizon=HORIZON),
    )
    tiers = timed(t, "value tiers", lambda: clv.assign_value_tiers(value, alive))
    return {
        "n": n,
        "timings": t,
        "rss_start_kib": rss_start,
        "rss_data_kib": rss_data,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # KiB on Linux
        "bgnbd": bgnbd,
        "gamma_gamma": spend,
        "repeat_share": float(np.mean(x > 0)),
        "max_frequency": float(np.max(x)),
        "alive": (float(np.mean(alive)), float(np.mean(base.alive))),
        "transactions": (float(np.sum(expected)), float(np.sum(base.future_transactions))),
        "value": (float(np.sum(value)), float(np.sum(base.future_spend))),
        "tiers": {tier.value: int(np.sum(tiers == tier.value)) for tier in clv.ValueTier},
    }


def report(result: dict[str, Any]) -> None:
    bgnbd, spend = result["bgnbd"], result["gamma_gamma"]
    print(
        f"\n== {result['n']:,} profiles: {result['repeat_share']:.1%} with a repeat purchase, "
        f"max frequency {result['max_frequency']:.0f}"
    )
    notes = {
        "fit BG/NBD": f"{bgnbd.iterations} iterations, {bgnbd.evaluations} evaluations",
        "fit Gamma-Gamma": (
            f"{spend.iterations} iterations, {spend.evaluations} evaluations, "
            f"on {spend.n_customers:,} customers"
        ),
    }
    for name, seconds in result["timings"].items():
        note = f"  ({notes[name]})" if name in notes else ""
        print(f"  {name:<40} {seconds:8.3f} s{note}")
    start, data, peak = (
        result[k] / 1024 for k in ("rss_start_kib", "rss_data_kib", "peak_rss_kib")
    )
    print(
        f"  RSS: {start:.0f} MiB after imports, {data:.0f} MiB with the data, peak {peak:.0f} MiB"
    )
    print(f"  {'parameter':<20} {'true':>9} {'recovered':>10}")
    for model, true, fitted, names in (
        ("BG/NBD", TRUE_BGNBD, bgnbd.params, ("r", "alpha", "a", "b")),
        ("Gamma-Gamma", TRUE_GAMMA_GAMMA, spend.params, ("p", "q", "gamma")),
    ):
        for name in names:
            label = f"{model} {name}"
            print(f"  {label:<20} {getattr(true, name):9.4f} {getattr(fitted, name):10.4f}")
    for label, key in (
        ("share alive", "alive"),
        ("transactions, next 12 months", "transactions"),
        ("spend, next 12 months", "value"),
    ):
        predicted, actual = result[key]
        print(
            f"  {label:<30} predicted {predicted:14,.2f}  simulated {actual:14,.2f}  "
            f"ratio {predicted / actual:.3f}"
        )
    print("  tiers: " + ", ".join(f"{tier} {count:,}" for tier, count in result["tiers"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    for n in args.profiles:
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            report(pool.submit(run_size, n, args.seed).result())


if __name__ == "__main__":
    main()
