"""Everything the per-block generators share: period, catalogue, promotions,
stores, calibrated rates, shared identifiers, id salts; and the seeding.

Each entity and each block of people draws from its own random stream,
``SeedSequence(seed, spawn_key=(stream, block))``, so a block's output depends
only on the seed, the arguments and the block number: never on what was
generated before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from endcap.synthetic.catalog import Catalog, build_catalog
from endcap.synthetic.clock import DAY, IsoFormatter, Period
from endcap.synthetic.identifiers import Salts, SharedIdentifiers
from endcap.synthetic.people import ANONYMOUS_PER_KNOWN_BASKET, Rates, calibrate
from endcap.synthetic.places import SHARED_EMAILS
from endcap.synthetic.promotions import PromoCalendar, plan_promotions
from endcap.synthetic.stores import Stores, build_stores

# Random streams (the first element of every spawn key).
CATALOG, STORES, PROMOTIONS, CALIBRATION, SHARED, SALTS, PEOPLE, BASKETS = range(8)
MAX_PROFILES = 10_000_000  # phone numbers and e-mails stay unique up to here
LINES_PER_BLOCK = 300_000  # about this many transaction lines per block of people
HOUSE_CARD_PREFIX = "2940000000"  # ordinary cards start with 2941


@dataclass(frozen=True)
class World:
    profiles: int
    seed: int
    period: Period
    catalog: Catalog
    promotions: PromoCalendar
    stores: Stores
    rates: Rates
    iso: IsoFormatter
    shared: SharedIdentifiers
    salts: Salts
    block_people: int  # people per block


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def block_people(weeks: int, lines_per_profile_year: float) -> int:
    """People per block: a block carries about ``LINES_PER_BLOCK`` lines, which
    bounds memory whatever the size of the base."""
    per_profile = max(lines_per_profile_year * weeks / 52, 1e-9)
    return int(np.clip(round(LINES_PER_BLOCK / per_profile), 1000, 20_000))


def plan_shared_identifiers(rng: np.random.Generator, profiles: int) -> SharedIdentifiers:
    """A handful of house cards and shared e-mails, each on 25 or more people's
    primary records (fewer only when the base is too small to spare them)."""
    n_cards = int(np.clip(3 + profiles // 200_000, 3, 10))
    n_emails = int(np.clip(2 + profiles // 250_000, 2, len(SHARED_EMAILS)))
    sizes = rng.integers(25, max(40, min(250, profiles // 2000)) + 1, n_cards + n_emails)
    budget = profiles // 5
    if sizes.sum() > budget:
        sizes = np.maximum(sizes * budget // max(int(sizes.sum()), 1), 0)
    person = rng.choice(profiles, size=int(sizes.sum()), replace=False)
    id_type: list[str] = []
    value: list[str] = []
    for k, size in enumerate(sizes.tolist()):
        if k < n_cards:
            id_type += ["loyalty_card"] * size
            value += [f"{HOUSE_CARD_PREFIX}{k + 1:03d}"] * size
        else:
            id_type += ["email"] * size
            value += [SHARED_EMAILS[k - n_cards]] * size
    return SharedIdentifiers(
        person=person.astype(np.int64), id_type=tuple(id_type), value=tuple(value)
    )


def build_world(profiles: int, seed: int, weeks: int, lines_per_profile_year: float) -> World:
    if not 1 <= profiles <= MAX_PROFILES:
        raise ValueError(f"profiles must be between 1 and {MAX_PROFILES:,}")
    if lines_per_profile_year <= 0:
        raise ValueError("lines_per_profile_year must be positive")
    period = Period(weeks)
    catalog = build_catalog(stream(seed, CATALOG), profiles)
    stores = build_stores(stream(seed, STORES), profiles)
    rates = calibrate(
        np.random.SeedSequence(seed, spawn_key=(CALIBRATION,)),
        lines_per_profile_year,
        period,
        stores,
        ANONYMOUS_PER_KNOWN_BASKET,
    )
    salt = stream(seed, SALTS).integers(0, 2**30, 4).tolist()
    return World(
        profiles=profiles,
        seed=seed,
        period=period,
        catalog=catalog,
        promotions=plan_promotions(stream(seed, PROMOTIONS), catalog, weeks),
        stores=stores,
        rates=rates,
        iso=IsoFormatter(period.history_start, period.end + 2 * DAY),
        shared=plan_shared_identifiers(stream(seed, SHARED), profiles),
        salts=Salts(customer=salt[0], card=salt[1], account=salt[2], phone=salt[3]),
        block_people=block_people(weeks, lines_per_profile_year),
    )
