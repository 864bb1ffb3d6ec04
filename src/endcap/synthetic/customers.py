"""Customer records: the retailer's view of people, one record per source system.

Most people have one record (a store loyalty-card member, or a web-shop
account for online-first shoppers). About 12.5% have two records and 2.5%
three (a web account next to the loyalty card, an app account, an old card)
that share at least one identifier, so identity resolution has key chains to
follow. The record routing decides which record a basket is booked on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from endcap.synthetic.arrays import BoolArray, IntArray, padded, scramble
from endcap.synthetic.clock import DAY, Period
from endcap.synthetic.people import AGE_BANDS, SEGMENTS, People, is_store_shopper
from endcap.synthetic.places import REGIONS
from endcap.synthetic.stores import Stores

CUSTOMER_COLUMNS = ("customer_id", "age_band", "household_size", "postal_code", "loyalty_tier")
STORE, WEB, APP = 0, 1, 2  # record kinds: loyalty card, web-shop account, app account
EMAIL, PHONE, DEVICE = 0, 1, 2  # the identifier guaranteed to link a secondary record
TWO_RECORDS, THREE_RECORDS = 0.10, 0.025
TIERS = ("bronze", "silver", "gold", "platinum")
_CUSTOMER_ID_SPACE = 10**9


@dataclass(frozen=True)
class Records:
    person: IntArray  # local person index; records [0, n) are the people's primaries
    kind: IntArray
    created: IntArray
    global_index: IntArray
    customer_id: pa.Array
    link: IntArray  # EMAIL/PHONE/DEVICE for secondary records, -1 for primaries
    online_record: IntArray  # per person: the record online orders are booked on
    store_record: IntArray  # per person: the record store visits are booked on
    alt_store_record: IntArray  # per person: an old loyalty card still in use, or -1

    @property
    def size(self) -> int:
        return int(self.person.shape[0])


def build_records(
    rng: np.random.Generator, people: People, offset: int, period: Period, salt: int
) -> Records:
    n = people.size
    own = np.arange(n, dtype=np.int64)
    u = rng.random(n)
    extra = np.where(u < TWO_RECORDS, 1, np.where(u < TWO_RECORDS + THREE_RECORDS, 2, 0))
    store_first = is_store_shopper(people)
    primary_kind = np.where(store_first, STORE, WEB)
    has_online = people.online_share > 0
    p1 = own[extra >= 1]
    k1 = np.where(store_first[p1], np.where(has_online[p1], WEB, APP), STORE)
    p2 = own[extra >= 2]
    k2 = np.where(store_first[p2] & (rng.random(p2.shape[0]) < 0.5), STORE, APP)
    secondary = np.concatenate([p1, p2])
    person = np.concatenate([own, secondary])
    kind = np.concatenate([primary_kind, k1, k2])
    room = np.maximum(period.end - DAY - people.signup[secondary], 0)
    created = np.concatenate(
        [
            people.signup,
            people.signup[secondary] + (rng.random(secondary.shape[0]) * room).astype(np.int64),
        ]
    )
    link = np.concatenate(
        [np.full(n, -1), rng.choice(3, size=secondary.shape[0], p=np.array([0.5, 0.3, 0.2]))]
    )
    global_index = offset + np.arange(person.shape[0], dtype=np.int64)
    customer_id = padded("C", scramble(global_index, _CUSTOMER_ID_SPACE, salt), 9)

    online_record = own.copy()
    store_record = own.copy()
    alt_store_record = np.full(n, -1, dtype=np.int64)
    for r in range(person.shape[0] - 1, n - 1, -1):  # later records first: the first one wins
        p, k = int(person[r]), int(kind[r])
        if k in (WEB, APP) and store_first[p]:
            online_record[p] = r
        elif k == STORE and store_first[p]:
            alt_store_record[p] = r
        elif k == STORE:
            store_record[p] = r
    return Records(
        person=person,
        kind=kind,
        created=created,
        global_index=global_index,
        customer_id=customer_id,
        link=link,
        online_record=online_record,
        store_record=store_record,
        alt_store_record=alt_store_record,
    )


def _maybe(values: pa.Array, present: BoolArray) -> pa.Array:
    out: pa.Array = pc.if_else(pa.array(present), values, pa.nulls(len(values), values.type))
    return out


def postal_codes(rng: np.random.Generator, region: IntArray) -> pa.Array:
    """Swedish postal codes (``"114 32"``) inside each person's region."""
    n = region.shape[0]
    prefix = np.empty(n, dtype=np.int64)
    for r, reg in enumerate(REGIONS):
        mask = region == r
        prefix[mask] = rng.choice(np.array(reg.postal_prefixes), size=int(mask.sum()))
    code = pc.utf8_lpad(
        pc.cast(pa.array(prefix * 1000 + rng.integers(0, 1000, n)), pa.string()), 5, "0"
    )
    head = pc.utf8_slice_codeunits(code, 0, 3)
    tail = pc.utf8_slice_codeunits(code, 3, 5)
    out: pa.Array = pc.binary_join_element_wise(head, tail, " ")
    return out


def customers_table(
    rng: np.random.Generator, people: People, records: Records, stores: Stores
) -> pa.Table:
    n = records.size
    person = records.person
    is_store = records.kind == STORE

    def present(store_p: float, other_p: float) -> BoolArray:
        out: BoolArray = rng.random(n) < np.where(is_store, store_p, other_p)
        return out

    age = pc.take(pa.array(AGE_BANDS), pa.array(people.age_band[person]))
    household = pa.array(people.household[person].astype(np.int8))
    postal = postal_codes(rng, stores.region[people.home_store[person]])
    base_tier = np.array([s.tier for s in SEGMENTS])[people.segment[person]]
    old_card = np.zeros(n, dtype=bool)
    old_card[records.alt_store_record[records.alt_store_record >= 0]] = True
    tier_idx = np.where(old_card, 0, np.clip(base_tier + rng.integers(0, 2, n), 0, 3))
    tier = pc.take(pa.array(TIERS), pa.array(tier_idx))
    return pa.table(
        {
            "customer_id": records.customer_id,
            "age_band": _maybe(age, present(0.9, 0.4)),
            "household_size": _maybe(household, present(0.8, 0.3)),
            "postal_code": _maybe(postal, present(0.97, 0.85)),
            "loyalty_tier": _maybe(tier, is_store),
        }
    )
