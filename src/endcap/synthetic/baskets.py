"""Transactions: baskets and their lines for one block of people, vectorised.

Each person shops at their segment's (heterogeneous) rate while active,
mostly in their home store, partly online. A line repeats one of the
person's favourite SKUs (drawn from popularity, with a department the person
over-buys), picks something on promotion that week, or picks by overall
Zipf popularity. About one basket in five is anonymous (no card shown).
Lines carry quantity, sales value after discount, and the discount; a few are
free (zero value). SKUs are unique within a basket.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from endcap.synthetic.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    cdf_of,
    dictionary,
    money,
    padded,
    sample_cdf,
)
from endcap.synthetic.clock import WEEK, visit_times
from endcap.synthetic.customers import Records
from endcap.synthetic.people import (
    ANONYMOUS_PER_KNOWN_BASKET,
    ONLINE_BASKET_LINES,
    SEGMENTS,
    People,
)
from endcap.synthetic.stores import ONLINE
from endcap.synthetic.world import World

TRANSACTION_COLUMNS = (
    "transaction_id", "line_no", "occurred_at", "sku", "quantity", "sales_value",
    "customer_id", "store_id", "channel", "discount",
)  # fmt: skip
HOME_STORE_SHARE = 0.8
OLD_CARD_SHARE = 0.3  # store visits booked on a person's older loyalty card record
FAVOURITES = 16
PROMO_PICK = 0.05
FREE_LINE = 0.0015
_FAVOURITE_CDF = cdf_of((np.arange(FAVOURITES) + 1.0) ** -0.9)
_FAVOURITE_SHARE = np.array([s.favourite_share for s in SEGMENTS])
_CHANNELS = pa.array(["store", "online"])


def _favourites(rng: np.random.Generator, world: World, people: People) -> IntArray:
    """(people, FAVOURITES) SKUs: popular ones, with six from the person's department."""
    n, cat = people.size, world.catalog
    overall = sample_cdf(cat.cdf, rng.random((n, FAVOURITES - 6)))
    lo, hi = cat.department_cdf[people.affinity, 0], cat.department_cdf[people.affinity, 1]
    own = sample_cdf(cat.cdf, lo[:, None] + rng.random((n, 6)) * (hi - lo)[:, None])
    out: IntArray = np.concatenate([overall[:, :4], own, overall[:, 4:]], axis=1)
    return out


def _duplicates(basket: IntArray, sku: IntArray, n_sku: int) -> IntArray:
    """Positions of lines repeating a SKU already earlier in the same basket."""
    key = basket.astype(np.int64) * n_sku + sku
    order = np.argsort(key, kind="stable")
    k = key[order]
    out: IntArray = order[np.flatnonzero(k[1:] == k[:-1]) + 1]
    return out


def _baskets(
    rng: np.random.Generator, world: World, people: People, records: Records
) -> tuple[IntArray, IntArray, BoolArray, IntArray, IntArray, FloatArray]:
    """(person or -1, time, online, store, record or -1, mean lines) per basket, in time order."""
    weeks = (people.active_to - people.active_from) / WEEK
    count = rng.poisson(people.visits * weeks)
    person = np.repeat(np.arange(people.size), count)
    n_known = person.shape[0]
    online = rng.random(n_known) < people.online_share[person]
    t = visit_times(rng, people.active_from[person], people.active_to[person], online)
    n_anon = int(rng.poisson(ANONYMOUS_PER_KNOWN_BASKET * n_known))
    p = world.period
    t_anon = visit_times(
        rng, np.full(n_anon, p.start), np.full(n_anon, p.end), np.zeros(n_anon, bool)
    )

    stores = world.stores
    away = sample_cdf(stores.pull_cdf, rng.random(n_known))
    home = rng.random(n_known) < HOME_STORE_SHARE
    store = np.where(online, ONLINE, np.where(home, people.home_store[person], away))
    alt = records.alt_store_record[person]
    use_alt = (alt >= 0) & (rng.random(n_known) < OLD_CARD_SHARE)
    record = np.where(
        online,
        records.online_record[person],
        np.where(use_alt, alt, records.store_record[person]),
    )
    record = np.where(records.created[record] > t, person, record)  # not created yet: primary
    lines = people.lines[person] * np.where(online, ONLINE_BASKET_LINES, 1.0)

    person = np.concatenate([person, np.full(n_anon, -1)])
    t = np.concatenate([t, t_anon])
    order = np.argsort(t, kind="stable")
    return (
        person[order],
        t[order],
        np.concatenate([online, np.zeros(n_anon, bool)])[order],
        np.concatenate([store, sample_cdf(stores.pull_cdf, rng.random(n_anon))])[order],
        np.concatenate([record, np.full(n_anon, -1)])[order],
        np.concatenate([lines, np.full(n_anon, world.rates.anonymous_lines)])[order],
    )


def transactions_table(
    rng: np.random.Generator,
    world: World,
    people: People,
    records: Records,
    first_basket: int,
) -> tuple[pa.Table, int]:
    """The block's transaction lines, and how many baskets (transaction ids) it used."""
    cat, promos = world.catalog, world.promotions
    person, t, online, store, record, mean_lines = _baskets(rng, world, people, records)
    n_baskets = person.shape[0]
    n_lines = 1 + rng.poisson(np.maximum(mean_lines - 1.0, 0.0))
    basket = np.repeat(np.arange(n_baskets), n_lines)
    n = basket.shape[0]
    week = world.period.week_of(t)[basket]
    who = person[basket]

    favourites = _favourites(rng, world, people)
    u = rng.random(n)
    known = who >= 0
    fav_share = np.where(known, _FAVOURITE_SHARE[people.segment[np.maximum(who, 0)]], 0.0)
    sku = sample_cdf(cat.cdf, rng.random(n))
    fav = np.flatnonzero((u >= PROMO_PICK) & (u < PROMO_PICK + fav_share))
    sku[fav] = favourites[who[fav], sample_cdf(_FAVOURITE_CDF, rng.random(fav.shape[0]))]
    promo_pick = np.flatnonzero(u < PROMO_PICK)
    sku[promo_pick] = promos.skus[
        week[promo_pick], rng.integers(0, promos.skus.shape[1], promo_pick.shape[0])
    ]
    dup = _duplicates(basket, sku, cat.size)
    if dup.shape[0]:
        sku[dup] = sample_cdf(cat.cdf, rng.random(int(dup.shape[0])))
        dup = _duplicates(basket, sku, cat.size)
    if dup.shape[0]:
        keep = np.ones(n, dtype=bool)
        keep[dup] = False
        basket, week, sku = basket[keep], week[keep], sku[keep]
        n = basket.shape[0]

    on_promo = promos.on_promo(week, sku)
    weighed = cat.by_weight[sku]
    kilos = np.clip(np.round(rng.lognormal(np.log(0.6), 0.5, n), 3), 0.05, 3.0)
    units = np.minimum(1 + rng.poisson(np.where(on_promo, 0.7, 0.12)), 24).astype(np.float64)
    quantity = np.where(weighed, kilos, units)
    unit = cat.unit_cents[sku]
    gross = np.rint(unit * quantity).astype(np.int64)
    discount = np.where(
        promos.multibuy[week, sku],
        np.floor(quantity / 2).astype(np.int64) * unit,
        np.rint(gross * promos.depth[week, sku]).astype(np.int64),
    )
    free = rng.random(n) < FREE_LINE
    gross = np.where(free, 0, gross)
    discount = np.where(free, 0, discount)

    per_basket = np.bincount(basket, minlength=n_baskets)
    line_no = np.arange(n) - (np.cumsum(per_basket) - per_basket)[basket] + 1
    rec = record[basket]
    table = pa.table(
        {
            "transaction_id": dictionary(
                basket, padded("T", first_basket + np.arange(n_baskets), 10)
            ),
            "line_no": pa.array(line_no.astype(np.int32)),
            "occurred_at": dictionary(basket, world.iso.format(t)),
            "sku": dictionary(sku, cat.sku),
            "quantity": pa.array(quantity),
            "sales_value": money(gross - discount),
            "customer_id": dictionary(np.maximum(rec, 0), records.customer_id, rec < 0),
            "store_id": dictionary(store[basket], world.stores.store_id),
            "channel": dictionary(online[basket].astype(np.int64), _CHANNELS),
            "discount": money(discount),
        }
    )
    return table, n_baskets
