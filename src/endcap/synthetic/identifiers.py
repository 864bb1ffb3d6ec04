"""Identifiers per customer record, raw as source systems hold them.

E-mails and phones belong to the person and so recur across that person's
records, written differently (case, stray whitespace; national and
international phone formats), so they only match after normalisation.
Loyalty cards and accounts belong to one record. On top come the shared
identifiers a resolver must refuse to merge on: house cards swiped for
shoppers without one, and family or placeholder e-mails typed at the till.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from endcap.synthetic.arrays import BoolArray, IntArray, padded, scramble
from endcap.synthetic.clock import DAY, IsoFormatter, Period
from endcap.synthetic.customers import APP, DEVICE, EMAIL, PHONE, STORE, WEB, Records
from endcap.synthetic.people import People
from endcap.synthetic.places import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, MOBILE_PREFIXES

IDENTIFIER_COLUMNS = ("customer_id", "id_type", "id_value", "observed_at")
ID_TYPES = ("loyalty_card", "email", "phone", "account", "device")
# Chance that a record of kind STORE / WEB / APP holds each identifier type.
_PRESENCE = {
    "loyalty_card": (1.0, 0.0, 0.3),
    "email": (0.7, 1.0, 0.85),
    "phone": (0.75, 0.5, 0.35),
    "account": (0.1, 1.0, 0.7),
    "device": (0.25, 0.85, 1.0),
}
SECOND_CARD = 0.10  # store records that also list a replaced card
SECOND_DEVICE = 0.4  # web/app records with a second device
MESSY_EMAIL = 0.15  # e-mails not written in canonical lower case
_ID_SPACE = 10**9


@dataclass(frozen=True)
class Salts:
    """Offsets for the id scramblers, drawn from the seed."""

    customer: int
    card: int
    account: int
    phone: int


@dataclass(frozen=True)
class SharedIdentifiers:
    """House cards and shared e-mails: each value on the primary record of many people."""

    person: IntArray  # global person numbers
    id_type: tuple[str, ...]
    value: tuple[str, ...]

    def within(self, start: int, stop: int) -> tuple[IntArray, list[str], list[str]]:
        idx = np.flatnonzero((self.person >= start) & (self.person < stop))
        return (
            self.person[idx] - start,
            [self.id_type[i] for i in idx],
            [self.value[i] for i in idx],
        )


def _messy(rng: np.random.Generator, emails: pa.Array, p_messy: np.ndarray) -> pa.Array:
    n = len(emails)
    style = np.where(rng.random(n) < p_messy, rng.integers(1, 5, n), 0)
    out: pa.Array = pc.choose(
        pa.array(style),
        emails,
        pc.utf8_title(emails),
        pc.utf8_upper(emails),
        pc.binary_join_element_wise(" ", emails, ""),
        pc.binary_join_element_wise(emails, "  ", ""),
    )
    return out


def _emails(
    rng: np.random.Generator, people: People, person: IntArray, linked: BoolArray
) -> pa.Array:
    first = pc.take(pa.array(FIRST_NAMES), pa.array(people.first_name[person]))
    last = pc.take(pa.array(LAST_NAMES), pa.array(people.last_name[person]))
    number = pc.cast(pa.array(people.name_number[person]), pa.string())
    # Separator and domain are the person's (a hash of the person number), not the record's.
    key = people.index[person] * 2_654_435_761 % 2**32
    sep = pc.take(pa.array([".", "_", "."]), pa.array(key % 3))
    domain = pc.take(pa.array(EMAIL_DOMAINS), pa.array((key >> 8) % len(EMAIL_DOMAINS)))
    canonical = pc.binary_join_element_wise(first, sep, last, number, "@", domain, "")
    return _messy(rng, canonical, np.where(linked, 0.5, MESSY_EMAIL))


def _phones(rng: np.random.Generator, people: People, person: IntArray, salt: int) -> pa.Array:
    n = person.shape[0]
    sub = pc.utf8_lpad(
        pc.cast(pa.array(scramble(people.index[person], 10**7, salt)), pa.string()), 7, "0"
    )
    key = people.index[person] * 2_246_822_519 % 2**32
    pre = pc.take(pa.array(MOBILE_PREFIXES), pa.array(key % len(MOBILE_PREFIXES)))
    a, b, c = (pc.utf8_slice_codeunits(sub, i, j) for i, j in ((0, 3), (3, 5), (5, 7)))
    j = pc.binary_join_element_wise
    out: pa.Array = pc.choose(
        pa.array(rng.integers(0, 7, n)),
        j("+46 ", pre, "-", a, " ", b, " ", c, ""),
        j("0", pre, "-", a, " ", b, " ", c, ""),
        j("0", pre, " ", a, " ", b, " ", c, ""),
        j("0", pre, sub, ""),
        j("+46", pre, sub, ""),
        j("0046 ", pre, " ", a, " ", b, " ", c, ""),
        j("0", pre, "-", sub, ""),
    )
    return out


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: a fast, well-mixed hash of 64-bit integers."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = x ^ (x >> np.uint64(31))
    return out


def _devices(people: People, person: IntArray, slot: IntArray, seed: int) -> pa.Array:
    """Advertising ids: the person's device ``slot`` (a hash of seed, person and
    slot), in upper case like iOS's IDFA or lower case like Android's AAID."""
    key = (people.index[person].astype(np.uint64) << np.uint64(2)) + slot.astype(np.uint64)
    key = key + np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    words = np.stack([_mix64(key), _mix64(key ^ np.uint64(0x5851F42D4C957F2D))], axis=1)
    h = words.tobytes().hex()
    ios = (people.index[person] % 5 < 2).tolist()
    out = []
    for i, upper in enumerate(ios):
        g = h[32 * i : 32 * i + 32]
        uid = f"{g[:8]}-{g[8:12]}-4{g[13:16]}-a{g[17:20]}-{g[20:]}"
        out.append(uid.upper() if upper else uid)
    return pa.array(out, pa.string())


def identifiers_table(
    rng: np.random.Generator,
    people: People,
    records: Records,
    period: Period,
    iso: IsoFormatter,
    shared: SharedIdentifiers,
    salts: Salts,
) -> pa.Table:
    kind, person, n_rec = records.kind, records.person, records.size
    has = {t: rng.random(n_rec) < np.array(_PRESENCE[t])[kind] for t in ID_TYPES}
    secondary = records.link >= 0
    for link, id_type in ((EMAIL, "email"), (PHONE, "phone"), (DEVICE, "device")):
        m = secondary & (records.link == link)
        has[id_type][m] = True
        has[id_type][person[m]] = True  # the person's primary record is record number `person`
    recs: list[IntArray] = []
    values: list[pa.Array] = []
    types: list[IntArray] = []

    def add(id_type: str, rec: IntArray, vals: pa.Array) -> None:
        recs.append(rec)
        values.append(vals)
        types.append(np.full(rec.shape[0], ID_TYPES.index(id_type)))

    rec = np.flatnonzero(has["loyalty_card"])
    rec = np.concatenate(
        [rec, rec[(kind[rec] == STORE) & (rng.random(rec.shape[0]) < SECOND_CARD)]]
    )
    slot = (np.arange(rec.shape[0]) >= int(has["loyalty_card"].sum())).astype(np.int64)
    card_no = scramble(records.global_index[rec] * 2 + slot, _ID_SPACE, salts.card)
    add("loyalty_card", rec, padded("2941", card_no, 9))
    rec = np.flatnonzero(has["email"])
    add(
        "email",
        rec,
        _emails(rng, people, person[rec], secondary[rec] & (records.link[rec] == EMAIL)),
    )
    rec = np.flatnonzero(has["phone"])
    add("phone", rec, _phones(rng, people, person[rec], salts.phone))
    rec = np.flatnonzero(has["account"])
    add(
        "account",
        rec,
        padded("u", scramble(records.global_index[rec], _ID_SPACE, salts.account), 9),
    )
    rec = np.flatnonzero(has["device"])
    two = np.isin(kind[rec], (WEB, APP)) & (rng.random(rec.shape[0]) < SECOND_DEVICE)
    rec = np.concatenate([rec, rec[two]])
    slot = (np.arange(rec.shape[0]) >= int(has["device"].sum())).astype(np.int64)
    add("device", rec, _devices(people, person[rec], slot, salts.phone))
    local, shared_types, shared_values = shared.within(
        int(people.index[0]), int(people.index[-1]) + 1
    )
    for id_type in ("loyalty_card", "email"):
        pick_ = [i for i, t in enumerate(shared_types) if t == id_type]
        vals = pa.array([shared_values[i] for i in pick_], pa.string())
        if id_type == "email":
            vals = _messy(rng, vals, np.full(len(pick_), 0.3))
        add(id_type, local[pick_], vals)

    rec = np.concatenate(recs)
    code = np.concatenate(types)
    order = np.lexsort((code, rec))
    rec, code = rec[order], code[order]
    seen = records.created[rec] + (rng.exponential(20 * DAY, rec.shape[0])).astype(np.int64)
    return pa.table(
        {
            "customer_id": pc.take(records.customer_id, pa.array(rec)),
            "id_type": pc.take(pa.array(ID_TYPES), pa.array(code)),
            "id_value": pc.take(pa.concat_arrays(values), pa.array(order)),
            "observed_at": iso.format(np.minimum(seen, period.end - 1)),
        }
    )
