"""Customer lifetime value: BG/NBD for future transactions and P(alive), Gamma-Gamma for spend.

Pure functions on numpy arrays, one entry per customer, fitted by maximum likelihood with
scipy. The inputs are the BG/NBD summary of each customer's purchase history (Fader, Hardie &
Lee 2005, "Counting your customers the easy way"):

``frequency`` (x)
    number of *repeat* transactions in (0, T]: the first purchase is not counted.
``recency`` (t_x)
    time from the first purchase to the last repeat purchase; 0 when x is 0.
``age`` (T)
    time from the first purchase to the end of the observation window.
``monetary_value``
    mean value of the repeat transactions (first purchase excluded, as in the CDNOW analysis);
    only read where x > 0.

Time is in whatever unit the caller uses for all three (weeks, days), and a horizon is in the
same unit; the fitted ``alpha`` comes back in that unit. Money stays in the currency of the
input. Nothing is discounted.

Every function raises :class:`CLVInputError` (a ``ValueError``) for inputs the models cannot
take, and the fits raise :class:`CLVConvergenceError` when the optimiser does not converge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import quad
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

FloatArray = NDArray[np.float64]

ONE_YEAR_IN_WEEKS = 365.25 / 7  # horizon of the 12-month value when the traits count weeks
ONE_YEAR_IN_DAYS = 365.25  # the same horizon when they count days

# The fits run on rescaled inputs (mean age 1, mean spend 1), where a parameter beyond e^±15
# means the data cannot identify it: the fit is reported as not converged instead.
_LOG_PARAM_BOUND = 15.0
# Mean log-likelihood per customer: a gradient this small is an optimum even when the line
# search stopped on rounding noise rather than on its own tolerance.
_GRADIENT_TOLERANCE = 1e-5
# The smallest curvature (Hessian eigenvalue of the mean log-likelihood, log parameters) an
# identified fit has: CDNOW's is 3e-3; data with no drop-out at all gives 1e-7 or less, where
# the optimiser may stop anywhere along the flat direction.
_CURVATURE_TOLERANCE = 1e-6
_HESSIAN_STEP = 1e-4
_MAX_ITERATIONS = 1000  # the CDNOW fit takes under 20; far more means a degenerate surface
# Eq. 10 divides by a - 1 and loses ~1e-10/|a - 1| of relative precision to cancellation; within
# this distance of 1 it is interpolated linearly instead (relative error below 1e-6 either way).
_A_NEAR_ONE = 1e-4
_SERIES_TERMS = 2_000  # the 2F1 fallback needs a few dozen terms for the heavy buyers it serves


class CLVInputError(ValueError):
    """Inputs the CLV models cannot take (negative, non-finite, inconsistent or empty)."""


class CLVConvergenceError(ValueError):
    """A maximum-likelihood fit that did not converge to an interior optimum."""


@dataclass(frozen=True, slots=True)
class BGNBDParams:
    """BG/NBD parameters: purchase rate ~ Gamma(r, alpha), drop-out probability ~ Beta(a, b).

    ``alpha`` is in the caller's time unit; r/alpha is the mean purchase rate per unit.
    """

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        _check_positive_params(r=self.r, alpha=self.alpha, a=self.a, b=self.b)


@dataclass(frozen=True, slots=True)
class BGNBDFit:
    params: BGNBDParams
    log_likelihood: float  # total over customers, in the caller's units
    converged: bool
    iterations: int
    evaluations: int  # log-likelihood (with gradient) evaluations
    n_customers: int


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Gamma-Gamma spend parameters: per-transaction value ~ Gamma(p, nu), nu ~ Gamma(q, gamma).

    ``gamma`` is in the input's currency.
    """

    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        _check_positive_params(p=self.p, q=self.q, gamma=self.gamma)

    @property
    def population_mean_value(self) -> float:
        """Mean transaction value of a customer we know nothing about; infinite when q <= 1."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float  # total over the customers with x > 0, in the input's currency
    converged: bool
    iterations: int
    evaluations: int
    n_customers: int  # customers with x > 0: the only ones the spend model learns from


class ValueTier(StrEnum):
    TOP = "top"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class ValueTierCuts:
    """Shares of the *active* customers (P(alive) at or above ``lapsed_below``), best first."""

    top_share: float = 0.10  # the best tenth: the customers a brand pays a premium to reach
    high_share: float = 0.20  # the next fifth: loyal regulars worth retention offers
    medium_share: float = 0.30  # the middle: regular shoppers with room to grow
    lapsed_below: float = 0.20  # P(alive) under this: 4 to 1 odds the customer has already left
    # "low" is whatever remains of the active customers

    def __post_init__(self) -> None:
        shares = (self.top_share, self.high_share, self.medium_share)
        if not all(0.0 <= s <= 1.0 for s in shares) or sum(shares) > 1.0 + 1e-12:
            raise CLVInputError(f"tier shares must be in [0, 1] and sum to at most 1, got {shares}")
        if not 0.0 <= self.lapsed_below <= 1.0:
            raise CLVInputError(f"lapsed_below is a probability, got {self.lapsed_below}")


# --- BG/NBD -----------------------------------------------------------------------------------


def fit_bgnbd(
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, *, require_convergence: bool = True
) -> BGNBDFit:
    """Fit r, alpha, a, b by maximum likelihood (eq. 6 of Fader, Hardie & Lee 2005).

    The optimiser works on log-parameters with an analytic gradient, on inputs rescaled to mean
    age 1 (``alpha`` is scaled back). Raises :class:`CLVInputError` for bad inputs or when no
    customer has a repeat purchase, and :class:`CLVConvergenceError` when the fit does not
    converge (unless ``require_convergence`` is false: the result then says so).
    """
    x, t_x, age_ = _rfm(frequency, recency, age)
    if not np.any(x > 0):
        raise CLVInputError("no customer has a repeat purchase: the BG/NBD cannot be fitted")
    scale = float(np.mean(age_)) or 1.0
    data = _BGNBDData.build(x, t_x / scale, age_ / scale)
    start = np.log([1.0, 1.0 / float(np.mean(x)), 1.0, 1.0])

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _bgnbd_log_likelihood(theta, data, gradient=True)
        return -float(np.sum(ll)) / data.n, -grad / data.n

    result = _maximise(objective, start, "BG/NBD", require_convergence)
    r, alpha_scaled, a, b = np.exp(result.theta)
    params = BGNBDParams(r=float(r), alpha=float(alpha_scaled * scale), a=float(a), b=float(b))
    return BGNBDFit(
        params=params,
        log_likelihood=float(np.sum(bgnbd_log_likelihood(params, x, t_x, age_))),
        converged=result.converged,
        iterations=result.iterations,
        evaluations=result.evaluations,
        n_customers=data.n,
    )


def bgnbd_log_likelihood(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """Each customer's log-likelihood under ``params`` (what the fit maximises, summed)."""
    x, t_x, age_ = _rfm(frequency, recency, age)
    theta = np.log([params.r, params.alpha, params.a, params.b])
    ll, _ = _bgnbd_log_likelihood(theta, _BGNBDData.build(x, t_x, age_), gradient=False)
    return ll


def probability_alive(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """P(the customer has not dropped out by ``age``), per customer, in [0, 1].

    It is 1 for every customer without a repeat purchase: in the BG/NBD a customer can only
    drop out right after a purchase, so a one-time buyer's low value shows in the expected
    transactions, not here.
    """
    x, t_x, age_ = _rfm(frequency, recency, age)
    return _probability_alive(params, x, t_x, age_)


def expected_transactions(
    params: BGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    horizon: float,
) -> FloatArray:
    """Expected number of transactions in (age, age + horizon], per customer (eq. 10).

    ``horizon`` is in the time unit of the inputs. Eq. 10's Gauss hypergeometric term is taken
    through Euler's transformation, ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) =
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), which keeps x out of the first two arguments and
    so stays finite for heavy buyers. Where scipy's hyp2f1 still fails (heavy buyers over a
    horizon far longer than their history), the Gauss series or the integral eq. 10 solves is
    evaluated instead.
    """
    x, t_x, age_ = _rfm(frequency, recency, age)
    horizon_ = _check_horizon(horizon)
    alive = _probability_alive(params, x, t_x, age_)
    return _expected_if_alive(params, x, age_, horizon_) * alive


def expected_transactions_new_customer(params: BGNBDParams, horizon: ArrayLike) -> FloatArray:
    """E[X(t)] for a customer just acquired, for each horizon t (eq. 9): the population curve."""
    horizons = _float_array("horizon", horizon)
    if np.any(horizons < 0):
        raise CLVInputError("horizon must not be negative")
    zeros = np.zeros_like(horizons)
    return _expected_if_alive(params, zeros, zeros, horizons)


# --- Gamma-Gamma ------------------------------------------------------------------------------


def fit_gamma_gamma(
    frequency: ArrayLike, monetary_value: ArrayLike, *, require_convergence: bool = True
) -> GammaGammaFit:
    """Fit p, q, gamma by maximum likelihood on the customers with at least one repeat purchase.

    ``monetary_value`` is each customer's mean repeat-transaction value and must be positive
    where frequency > 0 (it is ignored elsewhere). The model assumes spend per transaction is
    independent of how often a customer buys. Raises :class:`CLVInputError` and
    :class:`CLVConvergenceError` as :func:`fit_bgnbd` does.
    """
    x_all, m_all = _spend(frequency, monetary_value)
    repeat = x_all > 0
    x, m = x_all[repeat], m_all[repeat]
    if x.size == 0:
        raise CLVInputError("no customer has a repeat purchase: Gamma-Gamma cannot be fitted")
    if np.any(m <= 0):
        i = int(np.flatnonzero(repeat)[np.flatnonzero(m <= 0)[0]])
        raise CLVInputError(
            f"monetary_value[{i}] = {m_all[i]} for a customer with repeat purchases: the spend "
            "model needs positive values (leave zero-value customers out of the fit)"
        )
    scale = float(np.mean(m))
    data = _GammaGammaData.build(x, m / scale)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _gamma_gamma_log_likelihood(theta, data)
        return -ll / data.n, -grad / data.n

    result = _maximise(objective, np.log([1.0, 2.0, 1.0]), "Gamma-Gamma", require_convergence)
    p, q, gamma_scaled = np.exp(result.theta)
    ll_scaled, _ = _gamma_gamma_log_likelihood(result.theta, data)
    return GammaGammaFit(
        params=GammaGammaParams(p=float(p), q=float(q), gamma=float(gamma_scaled * scale)),
        log_likelihood=ll_scaled - data.n * math.log(scale),  # each density scales by 1/scale
        converged=result.converged,
        iterations=result.iterations,
        evaluations=result.evaluations,
        n_customers=data.n,
    )


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """Log-likelihood of each customer's mean value under ``params``; 0 where frequency is 0."""
    x, m = _spend(frequency, monetary_value)
    repeat = x > 0
    if np.any(m[repeat] <= 0):
        raise CLVInputError("monetary_value must be positive where frequency > 0")
    p, q, gamma = params.p, params.q, params.gamma
    xr, mr = x[repeat], m[repeat]
    ll = np.zeros_like(x)
    ll[repeat] = (
        gammaln(p * xr + q)
        - gammaln(p * xr)
        - gammaln(q)
        + q * math.log(gamma)
        + (p * xr - 1) * np.log(mr)
        + p * xr * np.log(xr)
        - (p * xr + q) * np.log(gamma + mr * xr)
    )
    return ll


def expected_average_value(
    params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """Expected mean transaction value per customer, in the input's currency.

    A weighted average of the population mean p*gamma/(q-1) and the customer's own mean, the
    weight on the latter growing with frequency; for x = 0 it is the population mean. Raises
    :class:`CLVInputError` when q <= 1 (no finite population mean) and some customer has x = 0.
    """
    x, m = _spend(frequency, monetary_value)
    if np.any(m < 0):
        raise CLVInputError("monetary_value must not be negative")
    return _expected_average_value(params, x, m)


# --- value ------------------------------------------------------------------------------------


def predicted_value(
    bgnbd: BGNBDParams,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    monetary_value: ArrayLike,
    *,
    horizon: float,
) -> FloatArray:
    """Expected spend in the next ``horizon`` per customer: expected transactions times expected
    mean value, undiscounted, in the input's currency.

    ``horizon`` is in the time unit of recency and age: :data:`ONE_YEAR_IN_WEEKS` or
    :data:`ONE_YEAR_IN_DAYS` for the 12-month value. Customers without repeat purchases get the
    population mean value per transaction.
    """
    transactions = expected_transactions(bgnbd, frequency, recency, age, horizon)
    x, m = _spend(frequency, monetary_value)
    if np.any(m < 0):
        raise CLVInputError("monetary_value must not be negative")
    return transactions * _expected_average_value(gamma_gamma, x, m)


def assign_value_tiers(
    value: ArrayLike, p_alive: ArrayLike, cuts: ValueTierCuts | None = None
) -> NDArray[np.str_]:
    """A :class:`ValueTier` value per customer.

    Customers with P(alive) below ``cuts.lapsed_below`` are "lapsed"; the others are ranked by
    value, highest first, and split by count into exactly round(n * cumulative share) customers
    per tier (so ties at a boundary are split by input order, which keeps the shares exact).
    """
    cuts = cuts or ValueTierCuts()
    value_ = _float_array("value", value)
    alive = _float_array("p_alive", p_alive)
    if value_.shape != alive.shape:
        raise CLVInputError(f"value has {value_.size} entries but p_alive has {alive.size}")
    if np.any((alive < 0) | (alive > 1)):
        raise CLVInputError("p_alive must lie in [0, 1]")
    tiers = np.full(value_.size, ValueTier.LAPSED.value, dtype="<U6")
    active = np.flatnonzero(alive >= cuts.lapsed_below)
    ranked = active[np.argsort(-value_[active], kind="stable")]
    n = ranked.size
    bounds = [
        math.floor(n * share + 0.5)
        for share in (
            cuts.top_share,
            cuts.top_share + cuts.high_share,
            cuts.top_share + cuts.high_share + cuts.medium_share,
        )
    ]
    starts = [0, *bounds]
    ends = [*bounds, n]
    for tier, start, end in zip(
        (ValueTier.TOP, ValueTier.HIGH, ValueTier.MEDIUM, ValueTier.LOW), starts, ends, strict=True
    ):
        tiers[ranked[start : min(end, n)]] = tier.value
    return tiers


# --- internals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _BGNBDData:
    """Inputs of the likelihood, with the terms that depend on x alone computed per distinct x."""

    x: FloatArray
    t_x: FloatArray
    age: FloatArray
    x_values: FloatArray  # distinct frequencies, ascending
    x_index: NDArray[np.intp]  # each customer's position in x_values
    x_counts: FloatArray  # customers per distinct frequency

    @property
    def n(self) -> int:
        return int(self.x.size)

    @classmethod
    def build(cls, x: FloatArray, t_x: FloatArray, age: FloatArray) -> _BGNBDData:
        values, index, counts = np.unique(x, return_inverse=True, return_counts=True)
        return cls(x, t_x, age, values, index.reshape(-1), counts.astype(np.float64))


def _bgnbd_log_likelihood(
    theta: FloatArray, data: _BGNBDData, *, gradient: bool
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood at log-parameters ``theta``, and the gradient of its sum.

    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x)),
    summed in log space (logaddexp) so neither term underflows for heavy buyers.
    """
    r, alpha, a, b = np.exp(theta)
    xs, idx = data.x_values, data.x_index
    repeat = xs > 0
    common = gammaln(r + xs) - gammaln(r) + r * math.log(alpha)
    still_alive = betaln(a, b + xs) - betaln(a, b)
    dropped = np.full_like(xs, -np.inf)
    dropped[repeat] = betaln(a + 1, b + xs[repeat] - 1) - betaln(a, b)

    rx = r + data.x
    log_age = np.log(alpha + data.age)
    log_recency = np.log(alpha + data.t_x)
    term_alive = still_alive[idx] - rx * log_age
    term_dropped = dropped[idx] - rx * log_recency
    mixed = np.logaddexp(term_alive, term_dropped)
    ll = common[idx] + mixed
    if not gradient:
        return ll, np.empty(0)

    w = np.exp(term_dropped - mixed)  # posterior weight of "dropped out after the last purchase"
    w_by_x = np.bincount(idx, weights=w, minlength=xs.size)
    n_by_x = data.x_counts
    psi_ab, psi_abx = digamma(a + b), digamma(a + b + xs)
    d_alive_a = psi_ab - psi_abx
    d_alive_b = digamma(b + xs) - psi_abx - digamma(b) + psi_ab
    d_dropped_a = np.where(repeat, 1.0 / a + d_alive_a, 0.0)
    d_dropped_b = np.zeros_like(xs)
    d_dropped_b[repeat] = digamma(b + xs[repeat] - 1) - psi_abx[repeat] - digamma(b) + psi_ab
    d_r = (
        np.dot(n_by_x, digamma(r + xs) - digamma(r) + math.log(alpha))
        - np.dot(1.0 - w, log_age)
        - np.dot(w, log_recency)
    )
    d_alpha = data.n * r / alpha - np.dot(
        rx, (1.0 - w) / (alpha + data.age) + w / (alpha + data.t_x)
    )
    d_a = np.dot(n_by_x - w_by_x, d_alive_a) + np.dot(w_by_x, d_dropped_a)
    d_b = np.dot(n_by_x - w_by_x, d_alive_b) + np.dot(w_by_x, d_dropped_b)
    return ll, np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])  # chain rule to log space


def _probability_alive(
    params: BGNBDParams, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    log_odds_dropped = np.full_like(x, -np.inf)
    xr = x[repeat]
    log_odds_dropped[repeat] = (
        math.log(a)
        - np.log(b + xr - 1)
        + (r + xr) * (np.log(alpha + age[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return np.asarray(expit(-log_odds_dropped), dtype=np.float64)


def _expected_if_alive(
    params: BGNBDParams, x: FloatArray, age: FloatArray, horizon: FloatArray | float
) -> FloatArray:
    """Eq. 10 without its P(alive) factor: expected transactions given still active at ``age``."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) >= _A_NEAR_ONE:
        return _expected_if_alive_at(r, alpha, a, b, x, age, horizon)
    # eq. 10 is 0/0 at a == 1: interpolate between two points where it is well conditioned
    below = _expected_if_alive_at(r, alpha, 1.0 - _A_NEAR_ONE, b, x, age, horizon)
    above = _expected_if_alive_at(r, alpha, 1.0 + _A_NEAR_ONE, b, x, age, horizon)
    weight = (a - 1.0 + _A_NEAR_ONE) / (2 * _A_NEAR_ONE)
    return (1.0 - weight) * below + weight * above


def _expected_if_alive_at(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: FloatArray,
    age: FloatArray,
    horizon: FloatArray | float,
) -> FloatArray:
    x, age, horizon_ = np.broadcast_arrays(x, age, np.asarray(horizon, dtype=np.float64))
    log_survive = np.log(alpha + age) - np.log(alpha + age + horizon_)  # log(1 - z)
    z = -np.expm1(log_survive)
    c = a + b + x - 1
    hyper_a, hyper_b = a + b - 1 - r, a - 1
    tail = np.exp(hyper_b * log_survive) * hyp2f1(hyper_a, hyper_b, c, z)
    value = np.asarray(c / (a - 1) * (1.0 - tail), dtype=np.float64)
    failed = np.flatnonzero(~np.isfinite(value))
    if failed.size == 0:
        return value
    # scipy's hyp2f1 gives inf or nan for large c (heavy buyers) once z >~ 0.9, and at some
    # z near 1 when c - a - b is an integer. The series converges fast in the first case; the
    # few customers left are integrated directly.
    value = value.copy()
    series = _hyp2f1_series(hyper_a, hyper_b, c[failed], z[failed])
    value[failed] = c[failed] / (a - 1) * (1.0 - np.exp(hyper_b * log_survive[failed]) * series)
    for i in failed[~np.isfinite(value[failed])]:
        value[i] = _expected_if_alive_by_quadrature(r, alpha, a, b, x[i], age[i], horizon_[i])
    return value


def _hyp2f1_series(a: float, b: float, c: FloatArray, z: FloatArray) -> FloatArray:
    """The Gauss series, summed until the rest is below rounding; nan where that takes too long."""
    term = np.ones_like(z)
    total = np.ones_like(z)
    done = np.zeros(z.shape, dtype=bool)
    for k in range(_SERIES_TERMS):
        ratio = (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        term = term * ratio
        total = np.where(done, total, total + term)
        # once the terms shrink geometrically, the rest is at most term * ratio / (1 - ratio)
        shrinking = np.abs(ratio) < 1
        rest = np.abs(term) * np.abs(ratio) / np.where(shrinking, 1 - np.abs(ratio), 1.0)
        done |= shrinking & (rest <= 1e-16 * np.abs(total))
        if done.all():
            break
    return np.where(done, total, np.nan)


def _expected_if_alive_by_quadrature(
    r: float, alpha: float, a: float, b: float, x: float, age: float, horizon: float
) -> float:
    """Expected transactions of an active customer as the integral eq. 10 solves in closed form.

    Given p, the rate lambda ~ Gamma(r+x, alpha+T) integrates out, leaving the mean of
    (1 - (1 + p t/(alpha+T))^-(r+x)) / p over p ~ Beta(a, b+x); in s = log p it is smooth.
    """
    log_beta = float(betaln(a, b + x))
    scaled = horizon / (alpha + age)

    def integrand(s: float) -> float:
        p = math.exp(s)
        if p == 0.0:
            return 0.0
        purchases = -math.expm1(-(r + x) * math.log1p(p * scaled)) / p
        return purchases * math.exp(a * s + (b + x - 1) * math.log1p(-p) - log_beta)

    split = math.log(a / (a + b + x))  # the posterior mean of p: the mass is near it
    low, _ = quad(integrand, -math.inf, split, limit=500, epsabs=0.0, epsrel=1e-10)
    high, _ = quad(integrand, split, 0.0, limit=500, epsabs=0.0, epsrel=1e-10)
    return float(low + high)


@dataclass(frozen=True, slots=True)
class _GammaGammaData:
    x: FloatArray
    m: FloatArray
    x_values: FloatArray
    x_counts: FloatArray
    sum_log_m: float
    sum_x_log_m: float
    x_log_x: FloatArray  # per distinct x

    @property
    def n(self) -> int:
        return int(self.x.size)

    @classmethod
    def build(cls, x: FloatArray, m: FloatArray) -> _GammaGammaData:
        values, counts = np.unique(x, return_counts=True)
        log_m = np.log(m)
        return cls(
            x,
            m,
            values,
            counts.astype(np.float64),
            float(np.sum(log_m)),
            float(np.dot(x, log_m)),
            values * np.log(values),
        )


def _gamma_gamma_log_likelihood(
    theta: FloatArray, data: _GammaGammaData
) -> tuple[float, FloatArray]:
    """Total log-likelihood of the customers' mean values, and its gradient in log space.

    l = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln(m) + px ln(x) - (px+q) ln(gamma+mx)
    """
    p, q, gamma = np.exp(theta)
    xs, counts = data.x_values, data.x_counts
    log_total = np.log(gamma + data.m * data.x)  # per customer: ln(gamma + m x)
    ll = (
        np.dot(counts, gammaln(p * xs + q) - gammaln(p * xs) + p * data.x_log_x)
        - data.n * (gammaln(q) - q * math.log(gamma))
        + p * data.sum_x_log_m
        - data.sum_log_m
        - np.dot(p * data.x + q, log_total)
    )
    psi_pxq = digamma(p * xs + q)
    d_p = (
        np.dot(counts * xs, psi_pxq - digamma(p * xs) + np.log(xs))
        + data.sum_x_log_m
        - np.dot(data.x, log_total)
    )
    d_q = np.dot(counts, psi_pxq) - data.n * (digamma(q) - math.log(gamma)) - np.sum(log_total)
    d_gamma = data.n * q / gamma - np.sum((p * data.x + q) / (gamma + data.m * data.x))
    return float(ll), np.array([d_p * p, d_q * q, d_gamma * gamma])


def _expected_average_value(params: GammaGammaParams, x: FloatArray, m: FloatArray) -> FloatArray:
    p, q, gamma = params.p, params.q, params.gamma
    denominator = p * x + q - 1
    if np.any(denominator <= 0):
        raise CLVInputError(
            f"q = {q:.4g} <= 1: the fitted spend distribution has no finite mean for customers "
            "without repeat purchases"
        )
    own = np.where(x > 0, m, 0.0)  # a customer without repeat purchases has no mean of their own
    return np.asarray((gamma + own * x) * p / denominator, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Optimum:
    theta: FloatArray
    converged: bool
    iterations: int
    evaluations: int


def _least_curvature(objective: Any, theta: FloatArray) -> float:
    """The smallest eigenvalue of the Hessian at ``theta``, by central differences of the
    gradient: near zero, some combination of parameters leaves the likelihood unchanged."""
    columns = []
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = _HESSIAN_STEP
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ahead, behind = objective(theta + step)[1], objective(theta - step)[1]
        columns.append((np.asarray(ahead) - np.asarray(behind)) / (2 * _HESSIAN_STEP))
    hessian = np.column_stack(columns)
    if not np.all(np.isfinite(hessian)):
        return 0.0
    return float(np.linalg.eigvalsh((hessian + hessian.T) / 2)[0])


def _maximise(objective: Any, start: FloatArray, model: str, require_convergence: bool) -> _Optimum:
    """Minimise ``objective`` (mean negative log-likelihood and its gradient) with L-BFGS-B."""
    bounds = [(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * start.size
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": _MAX_ITERATIONS, "ftol": 1e-15, "gtol": 1e-9},
        )
    theta = np.asarray(result.x, dtype=np.float64)
    finite = bool(np.isfinite(result.fun)) and bool(np.all(np.isfinite(result.jac)))
    small_gradient = finite and float(np.max(np.abs(result.jac))) < _GRADIENT_TOLERANCE
    at_edge = bool(np.any(np.abs(theta) > _LOG_PARAM_BOUND - 1e-3))
    converged = finite and (bool(result.success) or small_gradient) and not at_edge
    flat = converged and _least_curvature(objective, theta) < _CURVATURE_TOLERANCE
    converged = converged and not flat
    if not converged and require_convergence:
        reason = (
            "a parameter ran to the edge of its range (the data cannot identify it)"
            if at_edge
            else "the likelihood is flat along some direction (the data cannot identify it)"
            if flat
            else str(result.message)
        )
        raise CLVConvergenceError(
            f"the {model} fit did not converge after {result.nit} iterations: {reason}"
        )
    return _Optimum(theta, converged, int(result.nit), int(result.nfev))


def _float_array(name: str, values: ArrayLike) -> FloatArray:
    try:
        array = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise CLVInputError(f"{name} must be numbers: {error}") from error
    if array.ndim != 1:
        raise CLVInputError(f"{name} must be one value per customer, got shape {array.shape}")
    if array.size == 0:
        raise CLVInputError(f"{name} is empty")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise CLVInputError(f"{name}[{bad[0]}] is {array[bad[0]]}: values must be finite")
    return array


def _rfm(
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = _float_array("frequency", frequency)
    t_x = _float_array("recency", recency)
    age_ = _float_array("age", age)
    if not x.size == t_x.size == age_.size:
        raise CLVInputError(
            f"frequency, recency and age differ in length ({x.size}, {t_x.size}, {age_.size})"
        )
    for name, array in (("frequency", x), ("recency", t_x), ("age", age_)):
        negative = np.flatnonzero(array < 0)
        if negative.size:
            raise CLVInputError(
                f"{name}[{negative[0]}] is {array[negative[0]]}: must not be negative"
            )
    fractional = np.flatnonzero(x != np.floor(x))
    if fractional.size:
        i = fractional[0]
        raise CLVInputError(f"frequency[{i}] is {x[i]}: a count of repeat transactions")
    late = np.flatnonzero(t_x > age_)
    if late.size:
        i = late[0]
        raise CLVInputError(
            f"recency[{i}] = {t_x[i]} is later than age[{i}] = {age_[i]}: both run from the "
            "first purchase, so recency cannot exceed age"
        )
    stray = np.flatnonzero((x == 0) & (t_x > 0))
    if stray.size:
        i = stray[0]
        raise CLVInputError(
            f"recency[{i}] = {t_x[i]} for a customer without repeat purchases: recency is the "
            "time from the first to the last purchase (0 here), not the time since the last one"
        )
    return x, t_x, age_


def _spend(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Frequencies and mean values; the mean value is only checked (and kept) where x > 0."""
    x = _float_array("frequency", frequency)
    try:
        raw = np.atleast_1d(np.asarray(monetary_value, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise CLVInputError(f"monetary_value must be numbers: {error}") from error
    if raw.shape != x.shape:
        raise CLVInputError(f"frequency has {x.size} entries but monetary_value has {raw.size}")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise CLVInputError("frequency must be whole, non-negative counts of repeat transactions")
    m = np.where(x > 0, raw, 0.0)
    bad = np.flatnonzero(~np.isfinite(m))
    if bad.size:
        raise CLVInputError(f"monetary_value[{bad[0]}] is {raw[bad[0]]}: values must be finite")
    return x, m


def _check_horizon(horizon: float) -> float:
    if not math.isfinite(horizon) or horizon < 0:
        raise CLVInputError(f"horizon is {horizon}: a non-negative length of time")
    return float(horizon)


def _check_positive_params(**params: float) -> None:
    for name, value in params.items():
        if not (math.isfinite(value) and value > 0):
            raise CLVInputError(f"{name} is {value}: model parameters must be positive and finite")
