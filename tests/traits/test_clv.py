"""The CLV models against the published CDNOW estimates and an independent integration.

The CDNOW sample (2,357 customers, 39-week calibration) ships inside the ``Lifetimes`` wheel, a
dev dependency used only for these files: the package itself is never imported.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import integrate, special

from endcap.traits import clv

PUBLISHED = clv.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # FHL 2005, table 1


def _cdnow_file(name: str) -> Path:
    spec = importlib.util.find_spec("lifetimes")
    hint = "the CDNOW sample ships in the Lifetimes wheel: pip install -e '.[dev]'"
    assert spec is not None, hint
    assert spec.submodule_search_locations, hint
    return Path(spec.submodule_search_locations[0]) / "datasets" / name


@pytest.fixture(scope="module")
def cdnow() -> NDArray[np.float64]:
    """Columns x, t_x, T (weeks) and mean repeat-transaction value, one row per customer."""
    rfm = np.loadtxt(_cdnow_file("cdnow_customers_summary.csv"), delimiter=",", skiprows=1)
    spend = np.loadtxt(
        _cdnow_file("cdnow_customers_summary_with_transactions.csv"), delimiter=",", skiprows=1
    )
    assert rfm.shape == (2357, 4)
    assert np.array_equal(rfm[:, :4], spend[:, :4])  # the same customers, in the same order
    return np.column_stack([rfm[:, 1:4], spend[:, 4]])


@pytest.fixture(scope="module")
def bgnbd_fit(cdnow: NDArray[np.float64]) -> clv.BGNBDFit:
    return clv.fit_bgnbd(cdnow[:, 0], cdnow[:, 1], cdnow[:, 2])


@pytest.fixture(scope="module")
def gamma_gamma_fit(cdnow: NDArray[np.float64]) -> clv.GammaGammaFit:
    return clv.fit_gamma_gamma(cdnow[:, 0], cdnow[:, 3])


# --- the published estimates --------------------------------------------------------------------


def test_bgnbd_reproduces_the_published_cdnow_estimates(bgnbd_fit: clv.BGNBDFit) -> None:
    fitted = bgnbd_fit.params
    for name, published in (("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)):
        assert getattr(fitted, name) == pytest.approx(published, rel=0.01), name
    assert bgnbd_fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)  # the paper's LL
    assert bgnbd_fit.converged
    assert bgnbd_fit.n_customers == 2357


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(
    gamma_gamma_fit: clv.GammaGammaFit,
) -> None:
    fitted = gamma_gamma_fit.params
    for name, published in (("p", 6.25), ("q", 3.74), ("gamma", 15.44)):
        assert getattr(fitted, name) == pytest.approx(published, rel=0.01), name
    assert gamma_gamma_fit.n_customers == 946  # the customers with a repeat purchase
    assert gamma_gamma_fit.converged


def test_fitted_log_likelihoods_equal_the_per_customer_sums(
    cdnow: NDArray[np.float64], bgnbd_fit: clv.BGNBDFit, gamma_gamma_fit: clv.GammaGammaFit
) -> None:
    x, t_x, age, m = cdnow.T
    per_customer = clv.bgnbd_log_likelihood(bgnbd_fit.params, x, t_x, age)
    assert per_customer.sum() == pytest.approx(bgnbd_fit.log_likelihood, rel=1e-12)
    spend = clv.gamma_gamma_log_likelihood(gamma_gamma_fit.params, x, m)
    assert spend.sum() == pytest.approx(gamma_gamma_fit.log_likelihood, rel=1e-12)
    assert np.all(spend[x == 0] == 0)


def test_conditional_expectation_matches_the_published_excel_value(
    bgnbd_fit: clv.BGNBDFit,
) -> None:
    # Fader, Hardie & Lee's BG/NBD Excel workbook (note 004): the customer with x = 2,
    # t_x = 30.43, T = 38.86 is expected to make 1.226 transactions in the next 39 weeks.
    for params in (bgnbd_fit.params, PUBLISHED):
        expected = clv.expected_transactions(params, 2, 30.43, 38.86, 39)
        assert expected[0] == pytest.approx(1.226, abs=5e-4)


def test_new_customer_curve_matches_the_published_excel_values(bgnbd_fit: clv.BGNBDFit) -> None:
    # E[X(t)] from the same workbook, at the fitted parameters.
    weeks = [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0]
    published = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    curve = clv.expected_transactions_new_customer(bgnbd_fit.params, weeks)
    np.testing.assert_allclose(curve, published, atol=6e-4)


def test_one_customer_against_a_direct_integration_of_the_individual_model() -> None:
    """P(alive) and E[Y(39)] for x = 2, t_x = 30.43, T = 38.86 by integrating over (lambda, p).

    The individual-level BG/NBD: purchases at rate lambda, drop-out with probability p after
    each repeat purchase. Likelihood = (1-p)^x lambda^x e^(-lambda T) (still active) +
    p (1-p)^(x-1) lambda^x e^(-lambda t_x) (gone after the last purchase); an active customer
    makes (1 - e^(-lambda p t)) / p purchases in the next t. None of eq. 10's algebra is used.
    """
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    x, t_x, age, horizon = 2, 30.43, 38.86, 39.0
    log_norm = r * math.log(alpha) - special.gammaln(r) - special.betaln(a, b)

    def prior(lam: float, p: float) -> float:
        return math.exp(
            log_norm + (r - 1) * math.log(lam) - alpha * lam
            + (a - 1) * math.log(p) + (b - 1) * math.log1p(-p)
        )  # fmt: skip

    def active(lam: float, p: float) -> float:
        return prior(lam, p) * (1 - p) ** x * lam**x * math.exp(-lam * age)

    def gone(lam: float, p: float) -> float:
        return prior(lam, p) * p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x)

    def future(lam: float, p: float) -> float:
        return active(lam, p) * -math.expm1(-lam * p * horizon) / p

    def over_prior(f: object) -> float:
        value, _ = integrate.dblquad(f, 0, 1, 0, np.inf, epsabs=0, epsrel=1e-10)
        return float(value)

    evidence = over_prior(active) + over_prior(gone)
    assert clv.probability_alive(PUBLISHED, x, t_x, age)[0] == pytest.approx(
        over_prior(active) / evidence, rel=1e-7
    )
    assert clv.expected_transactions(PUBLISHED, x, t_x, age, horizon)[0] == pytest.approx(
        over_prior(future) / evidence, rel=1e-7
    )


def _expected_if_active(params: clv.BGNBDParams, x: float, age: float, horizon: float) -> float:
    """E[Y(t) | active at T] by quadrature over p ~ Beta(a, b+x), lambda integrated out.

    Integrated in s = log p, where the integrand is smooth for any a.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_beta = special.betaln(a, b + x)

    def integrand(s: float) -> float:
        p = math.exp(s)
        if p == 0.0:
            return 0.0
        purchases = -math.expm1(-(r + x) * math.log1p(p * horizon / (alpha + age))) / p
        return purchases * math.exp(a * s + (b + x - 1) * math.log1p(-p) - log_beta)

    split = math.log(a / (a + b + x))  # near the posterior mean of p
    low, _ = integrate.quad(integrand, -np.inf, split, limit=500, epsabs=0, epsrel=1e-12)
    high, _ = integrate.quad(integrand, split, 0, limit=500, epsabs=0, epsrel=1e-12)
    return float(low + high)


@pytest.mark.parametrize(
    ("params", "x", "t_x", "age", "horizon"),
    [
        (PUBLISHED, 0, 0.0, 38.86, 39.0),
        (PUBLISHED, 7, 35.0, 38.86, 52.0),
        # a heavy buyer with a horizon far past its history: scipy's hyp2f1 overflows here
        (clv.BGNBDParams(r=3.0, alpha=5.0, a=5.0, b=2.5), 100, 9.0, 10.0, 2000.0),
        (clv.BGNBDParams(r=0.8, alpha=2.5, a=0.6, b=4.0), 400, 200.0, 200.0, 52.0),
        (clv.BGNBDParams(r=0.5, alpha=0.1, a=1.0, b=2.5), 3, 5.0, 10.0, 2000.0),  # eq. 10 is 0/0
        (clv.BGNBDParams(r=0.5, alpha=0.1, a=1.00005, b=2.5), 3, 5.0, 10.0, 52.0),
    ],
)
def test_expected_transactions_agree_with_quadrature(
    params: clv.BGNBDParams, x: int, t_x: float, age: float, horizon: float
) -> None:
    got = clv.expected_transactions(params, x, t_x, age, horizon)[0]
    alive = clv.probability_alive(params, x, t_x, age)[0]
    assert np.isfinite(got)
    assert got == pytest.approx(alive * _expected_if_active(params, x, age, horizon), rel=1e-6)


# --- behaviour a marketer relies on ----------------------------------------------------------


def test_probability_alive_is_one_without_repeat_purchases(bgnbd_fit: clv.BGNBDFit) -> None:
    alive = clv.probability_alive(bgnbd_fit.params, [0, 0, 0], [0, 0, 0], [1.0, 39.0, 500.0])
    assert np.all(alive == 1.0)


def test_recent_buyers_are_more_likely_alive_and_buy_more(bgnbd_fit: clv.BGNBDFit) -> None:
    recency = np.linspace(1.0, 38.0, 20)
    frequency, age = np.full(20, 4.0), np.full(20, 38.86)
    alive = clv.probability_alive(bgnbd_fit.params, frequency, recency, age)
    expected = clv.expected_transactions(bgnbd_fit.params, frequency, recency, age, 39.0)
    assert np.all(np.diff(alive) > 0)
    assert np.all(np.diff(expected) > 0)
    # the same history seen over a longer silence: less likely alive
    longer = clv.probability_alive(bgnbd_fit.params, frequency, recency, age + 20)
    assert np.all(longer < alive)


def test_cdnow_predictions_are_sane(
    cdnow: NDArray[np.float64], bgnbd_fit: clv.BGNBDFit, gamma_gamma_fit: clv.GammaGammaFit
) -> None:
    x, t_x, age, m = cdnow.T
    alive = clv.probability_alive(bgnbd_fit.params, x, t_x, age)
    value = clv.predicted_value(
        bgnbd_fit.params, gamma_gamma_fit.params, x, t_x, age, m, horizon=clv.ONE_YEAR_IN_WEEKS
    )
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(value >= 0)
    expected = clv.expected_transactions(bgnbd_fit.params, x, t_x, age, clv.ONE_YEAR_IN_WEEKS)
    mean_value = clv.expected_average_value(gamma_gamma_fit.params, x, m)
    np.testing.assert_allclose(value, expected * mean_value, rtol=1e-12)


def test_time_unit_only_rescales_alpha(cdnow: NDArray[np.float64]) -> None:
    x, t_x, age, _ = cdnow.T
    weeks = clv.fit_bgnbd(x, t_x, age).params
    days = clv.fit_bgnbd(x, 7 * t_x, 7 * age).params
    assert days.alpha == pytest.approx(7 * weeks.alpha, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(days, name) == pytest.approx(getattr(weeks, name), rel=1e-4)
    in_weeks = clv.expected_transactions(weeks, x[:50], t_x[:50], age[:50], 52)
    in_days = clv.expected_transactions(days, x[:50], 7 * t_x[:50], 7 * age[:50], 364)
    np.testing.assert_allclose(in_days, in_weeks, rtol=1e-3)


def test_gamma_gamma_mean_lies_between_population_and_own_mean(
    gamma_gamma_fit: clv.GammaGammaFit,
) -> None:
    params = gamma_gamma_fit.params
    population = params.population_mean_value
    assert population == pytest.approx(params.p * params.gamma / (params.q - 1))
    own = np.array([5.0, 20.0, 35.0, 80.0, 300.0, 80.0, 80.0])
    frequency = np.array([1, 2, 3, 4, 5, 1, 20])
    expected = clv.expected_average_value(params, frequency, own)
    low, high = np.minimum(own, population), np.maximum(own, population)
    assert np.all((expected >= low) & (expected <= high))
    # more transactions, more weight on the customer's own mean
    assert abs(expected[6] - 80.0) < abs(expected[3] - 80.0) < abs(expected[5] - 80.0)
    # no repeat purchase: the population mean, whatever is passed as the customer's own
    no_history = clv.expected_average_value(params, [0, 0], [np.nan, 999.0])
    np.testing.assert_allclose(no_history, population)


def test_spend_model_without_a_finite_mean_refuses_new_customers() -> None:
    heavy_tail = clv.GammaGammaParams(p=2.0, q=0.8, gamma=10.0)
    assert math.isinf(heavy_tail.population_mean_value)
    assert clv.expected_average_value(heavy_tail, [3], [25.0])[0] > 0
    with pytest.raises(clv.CLVInputError, match="no finite mean"):
        clv.expected_average_value(heavy_tail, [0, 3], [0.0, 25.0])


# --- tiers ----------------------------------------------------------------------------------


def test_tiers_partition_the_active_customers_with_the_requested_shares() -> None:
    rng = np.random.default_rng(7)
    value = rng.gamma(0.7, 100.0, 10_000)
    alive = rng.uniform(0, 1, 10_000)
    tiers = clv.assign_value_tiers(value, alive)
    lapsed = alive < 0.2
    assert np.array_equal(tiers == "lapsed", lapsed)
    active = int((~lapsed).sum())
    counts = {tier: int(np.sum(tiers == tier)) for tier in ("top", "high", "medium", "low")}
    assert counts["top"] == round(0.1 * active)
    assert counts["top"] + counts["high"] == round(0.3 * active)
    assert counts["top"] + counts["high"] + counts["medium"] == round(0.6 * active)
    assert sum(counts.values()) == active
    ordered = [value[tiers == tier] for tier in ("top", "high", "medium", "low")]
    for better, worse in itertools.pairwise(ordered):
        assert better.min() >= worse.max()


def test_tiers_keep_exact_shares_when_values_tie() -> None:
    tiers = clv.assign_value_tiers(np.ones(100), np.ones(100))
    assert [int(np.sum(tiers == t)) for t in ("top", "high", "medium", "low")] == [10, 20, 30, 40]


def test_tiers_follow_custom_cuts() -> None:
    cuts = clv.ValueTierCuts(top_share=0.5, high_share=0.5, medium_share=0.0, lapsed_below=0.5)
    tiers = clv.assign_value_tiers([4.0, 3.0, 2.0, 1.0, 9.0], [1.0, 1.0, 1.0, 1.0, 0.4], cuts)
    assert tiers.tolist() == ["top", "top", "high", "high", "lapsed"]


@pytest.mark.parametrize(
    "cuts",
    [
        {"top_share": -0.1},
        {"top_share": 0.5, "high_share": 0.4, "medium_share": 0.2},
        {"lapsed_below": 1.5},
    ],
)
def test_impossible_tier_cuts_are_refused(cuts: dict[str, float]) -> None:
    with pytest.raises(clv.CLVInputError):
        clv.ValueTierCuts(**cuts)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        ([], [], [], "empty"),
        ([-1], [0.0], [10.0], "frequency.*negative"),
        ([1], [-2.0], [10.0], "recency.*negative"),
        ([1], [2.0], [-10.0], "age.*negative"),
        ([2], [12.0], [10.0], "cannot exceed age"),
        ([0], [3.0], [10.0], "not the time since the last one"),
        ([1.5], [3.0], [10.0], "count of repeat transactions"),
        ([1, np.nan], [3.0, 1.0], [10.0, 2.0], "finite"),
        ([1, 1], [3.0, np.inf], [10.0, 2.0], "finite"),
        ([1, 2], [3.0], [10.0, 4.0], "differ in length"),
        (["one"], [3.0], [10.0], "must be numbers"),
        ([[1, 2]], [[3.0, 1.0]], [[10.0, 2.0]], "one value per customer"),
    ],
)
def test_bad_purchase_histories_are_refused(
    frequency: object, recency: object, age: object, message: str
) -> None:
    with pytest.raises(clv.CLVInputError, match=message):
        clv.fit_bgnbd(frequency, recency, age)  # type: ignore[arg-type]
    with pytest.raises(clv.CLVInputError, match=message):
        clv.probability_alive(PUBLISHED, frequency, recency, age)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(clv.CLVInputError, ValueError)
    assert issubclass(clv.CLVConvergenceError, ValueError)


def test_fits_need_repeat_purchases() -> None:
    with pytest.raises(clv.CLVInputError, match="no customer has a repeat purchase"):
        clv.fit_bgnbd([0, 0], [0.0, 0.0], [5.0, 8.0])
    with pytest.raises(clv.CLVInputError, match="no customer has a repeat purchase"):
        clv.fit_gamma_gamma([0, 0], [0.0, 0.0])


def test_gamma_gamma_needs_positive_spend() -> None:
    with pytest.raises(clv.CLVInputError, match=r"monetary_value\[1\] = 0.0"):
        clv.fit_gamma_gamma([2, 1, 0], [10.0, 0.0, 0.0])
    with pytest.raises(clv.CLVInputError, match="monetary_value"):
        clv.fit_gamma_gamma([2, 1], [10.0])
    with pytest.raises(clv.CLVInputError, match="finite"):
        clv.fit_gamma_gamma([2, 1], [10.0, np.nan])


def test_a_fit_the_data_cannot_identify_does_not_converge() -> None:
    # every customer bought right up to the end of the window: no evidence of drop-out at all
    frequency = np.array([1, 2, 3, 4] * 50)
    age = np.linspace(5.0, 50.0, 200)
    with pytest.raises(clv.CLVConvergenceError, match="did not converge"):
        clv.fit_bgnbd(frequency, age, age)
    unconverged = clv.fit_bgnbd(frequency, age, age, require_convergence=False)
    assert not unconverged.converged
    # identical spend everywhere: no spread to fit a spend distribution to
    with pytest.raises(clv.CLVConvergenceError, match="Gamma-Gamma"):
        clv.fit_gamma_gamma(np.ones(100), np.full(100, 20.0))


@pytest.mark.parametrize("horizon", [-1.0, math.nan, math.inf])
def test_bad_horizons_are_refused(horizon: float) -> None:
    with pytest.raises(clv.CLVInputError, match="horizon"):
        clv.expected_transactions(PUBLISHED, [1], [2.0], [3.0], horizon)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_parameters_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(clv.CLVInputError, match="positive and finite"):
        clv.BGNBDParams(r=bad, alpha=1.0, a=1.0, b=1.0)
    with pytest.raises(clv.CLVInputError, match="positive and finite"):
        clv.GammaGammaParams(p=1.0, q=2.0, gamma=bad)


# --- properties -------------------------------------------------------------------------------

positive = st.floats(min_value=0.05, max_value=20.0)


@st.composite
def histories(draw: st.DrawFn) -> tuple[clv.BGNBDParams, int, float, float]:
    params = clv.BGNBDParams(
        r=draw(positive), alpha=draw(positive), a=draw(positive), b=draw(positive)
    )
    x = draw(st.integers(min_value=0, max_value=300))
    age = draw(st.floats(min_value=0.0, max_value=500.0))
    t_x = 0.0 if x == 0 else draw(st.floats(min_value=0.0, max_value=age))
    return params, x, t_x, age


@settings(max_examples=200, deadline=None)
@given(histories(), st.floats(min_value=0.0, max_value=1000.0), st.floats(0.0, 1000.0))
def test_expected_transactions_are_finite_non_negative_and_grow_with_the_horizon(
    history: tuple[clv.BGNBDParams, int, float, float], horizon: float, more: float
) -> None:
    params, x, t_x, age = history
    alive = clv.probability_alive(params, x, t_x, age)[0]
    assert 0.0 <= alive <= 1.0
    short = clv.expected_transactions(params, x, t_x, age, horizon)[0]
    long = clv.expected_transactions(params, x, t_x, age, horizon + more)[0]
    assert np.isfinite(short)
    assert np.isfinite(long)
    assert short >= -1e-12
    assert long >= short * (1 - 1e-9) - 1e-12
