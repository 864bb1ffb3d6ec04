"""Real people ("profiles"): value segment, shopping rhythm, home store, channel mix,
demographics and the latent traits that drive consents and favourite products.

A profile is one person. Identity resolution should end with one profile per
person, however many customer records the retailer holds for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from endcap.synthetic.arrays import BoolArray, FloatArray, IntArray, sample_cdf, scramble
from endcap.synthetic.clock import WEEK, Period
from endcap.synthetic.places import FIRST_NAMES, LAST_NAMES
from endcap.synthetic.stores import Stores
from endcap.synthetic.taxonomy import DEPARTMENTS


@dataclass(frozen=True)
class Segment:
    name: str
    share: float
    visits_per_week: float  # before calibration
    lines_per_basket: float  # before calibration
    favourite_share: float  # share of lines that repeat a favourite SKU
    tier: int  # base loyalty tier (0 bronze .. 3 platinum)


SEGMENTS = (
    Segment("heavy", 0.15, 2.0, 9.0, 0.55, 2),
    Segment("medium", 0.30, 1.0, 6.5, 0.50, 1),
    Segment("light", 0.40, 0.35, 4.5, 0.35, 0),
    Segment("lapsed", 0.15, 1.0, 6.0, 0.45, 0),
)
LAPSED = 3
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_P = (0.09, 0.18, 0.18, 0.18, 0.16, 0.21)
_HOUSEHOLD_P = (0.30, 0.33, 0.14, 0.15, 0.06, 0.02)  # 1 .. 6 people
NEW_CUSTOMER_SHARE = 0.12  # first record created during the period
ONLINE_BASKET_LINES = 1.6  # online orders are bigger than store trips
ANONYMOUS_PER_KNOWN_BASKET = 0.25  # anonymous baskets (no card shown): 20% of all
# Affinity: each person over-buys one department (weights; Baby is given to young families).
_AFFINITY = {"Fresh Produce": 0.15, "Dairy & Chilled": 0.11, "Meat & Fish": 0.10,
             "Bakery": 0.06, "Pantry": 0.10, "Frozen": 0.07, "Beverages": 0.09,
             "Snacks & Sweets": 0.09, "Household": 0.07, "Personal Care": 0.06, "Baby": 0.0,
             "Pharmacy": 0.04, "Alcohol": 0.06}  # fmt: skip


@dataclass(frozen=True)
class Rates:
    """Calibrated per-segment rates that give the requested lines per profile-year."""

    visits_per_week: FloatArray  # per segment
    lines_per_basket: FloatArray  # per segment
    anonymous_lines: float  # mean lines of an anonymous basket


@dataclass(frozen=True)
class People:
    index: IntArray  # global person number
    segment: IntArray
    visits: FloatArray  # expected baskets per active week
    lines: FloatArray  # expected lines per store basket
    online_share: FloatArray
    home_store: IntArray
    signup: IntArray  # when the person's first customer record was created
    active_from: IntArray
    active_to: IntArray
    age_band: IntArray
    household: IntArray
    affinity: IntArray  # department index
    first_name: IntArray
    last_name: IntArray
    name_number: IntArray  # with first/last name: unique per person (see identifiers.py)
    consent_latent: FloatArray

    @property
    def size(self) -> int:
        return int(self.index.shape[0])


def draw_people(
    rng: np.random.Generator,
    start: int,
    n: int,
    profiles: int,
    period: Period,
    stores: Stores,
    rates: Rates,
) -> People:
    seg_p = np.array([s.share for s in SEGMENTS])
    segment = rng.choice(len(SEGMENTS), size=n, p=seg_p)
    visits = rates.visits_per_week[segment] * rng.gamma(2.0, 0.5, n)
    lines = np.maximum(1.0, rates.lines_per_basket[segment] * rng.gamma(6.0, 1 / 6, n))
    u = rng.random(n)
    online_share = np.where(
        u < 0.65, 0.0, np.where(u < 0.95, rng.beta(2.0, 2.5, n), rng.beta(9.0, 1.0, n))
    )
    home_store = sample_cdf(stores.pull_cdf, rng.random(n))
    new = rng.random(n) < NEW_CUSTOMER_SHARE
    signup = np.where(
        new,
        period.start + (rng.random(n) * (period.end - period.start - WEEK)).astype(np.int64),
        period.history_start
        + (rng.random(n) * (period.start - period.history_start)).astype(np.int64),
    )
    active_to = np.full(n, period.end, dtype=np.int64)
    lapse = period.start + (rng.uniform(0.2, 0.8, n) * (period.end - period.start)).astype(np.int64)
    active_to = np.where(segment == LAPSED, lapse, active_to)
    active_from = np.minimum(np.maximum(signup, period.start), active_to)
    age = rng.choice(len(AGE_BANDS), size=n, p=np.array(_AGE_P))
    household = rng.choice(6, size=n, p=np.array(_HOUSEHOLD_P)) + 1
    household = np.where((age == 5) & (household > 2) & (rng.random(n) < 0.8), 2, household)
    aff_w = np.array([_AFFINITY[d] for d in DEPARTMENTS])
    affinity = rng.choice(len(DEPARTMENTS), size=n, p=aff_w / aff_w.sum())
    young_family = (household >= 3) & (age >= 1) & (age <= 2) & (rng.random(n) < 0.45)
    affinity = np.where(young_family, DEPARTMENTS.index("Baby"), affinity)
    index = np.arange(start, start + n, dtype=np.int64)
    first, last, number = _name_parts(index, profiles)
    return People(
        index=index,
        segment=segment,
        visits=visits,
        lines=lines,
        online_share=online_share,
        home_store=home_store,
        signup=signup,
        active_from=active_from,
        active_to=active_to,
        age_band=age,
        household=household,
        affinity=affinity,
        first_name=first,
        last_name=last,
        name_number=number,
        consent_latent=rng.standard_normal(n),
    )


def _name_parts(index: IntArray, profiles: int) -> tuple[IntArray, IntArray, IntArray]:
    """(first, last, number) as a bijection of the person number, so that
    ``first.last<number>`` e-mails never collide between two people: the
    number's hundreds come from the bijection, its last two digits are noise."""
    s = scramble(index, max(profiles, 1), salt=17)
    nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
    number = (s // (nf * nl)) * 100 + (s * 37 + 11) % 100
    return s % nf, (s // nf) % nl, number


def calibrate(
    seed: np.random.SeedSequence,
    lines_per_profile_year: float,
    period: Period,
    stores: Stores,
    anonymous_per_known_basket: float,
) -> Rates:
    """Scale segment rates so that expected lines (known + anonymous) per profile
    per year equal the request. Basket size takes part of the scaling (sparse
    data means fewer *and* smaller baskets), visit frequency the rest. The
    expectation is taken over a large sample of simulated people, drawn twice
    from the same seed so that only the rates differ between the two scorings."""
    base_visits = np.array([s.visits_per_week for s in SEGMENTS])
    base_lines = np.array([s.lines_per_basket for s in SEGMENTS])
    target = lines_per_profile_year * period.weeks / 52
    unit = Rates(base_visits, base_lines, 4.0)
    per_profile = _expected_lines(seed, unit, period, stores, anonymous_per_known_basket)
    line_factor = float(np.clip((target / max(per_profile, 1e-9)) ** 0.35, 0.45, 2.0))
    scaled = Rates(
        base_visits, np.maximum(1.2, base_lines * line_factor), max(1.2, 4.0 * line_factor)
    )
    per_profile = _expected_lines(seed, scaled, period, stores, anonymous_per_known_basket)
    visit_factor = target / max(per_profile, 1e-9)
    return Rates(base_visits * visit_factor, scaled.lines_per_basket, scaled.anonymous_lines)


def _expected_lines(
    seed: np.random.SeedSequence, r: Rates, period: Period, stores: Stores, anon_ratio: float
) -> float:
    """Expected lines over the period per person under rates ``r`` (no Poisson noise)."""
    n = 50_000
    p = draw_people(np.random.default_rng(seed), 0, n, n, period, stores, r)
    weeks = (p.active_to - p.active_from) / WEEK
    baskets = p.visits * weeks
    online = p.online_share
    known = baskets * p.lines * (1 - online + online * ONLINE_BASKET_LINES)
    total = known.sum() + anon_ratio * baskets.sum() * r.anonymous_lines
    return float(total / n)


def is_store_shopper(p: People) -> BoolArray:
    out: BoolArray = p.online_share < 0.6
    return out
