"""The consent ledger: per customer record and purpose, a ``granted`` row when the
customer opted in, and for a few a later ``withdrawn`` row.

Opt-ins are correlated within a person (someone who accepts e-mail usually
accepts onsite targeting too) through a latent trait, with marginal rates
equal to the targets below.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from endcap.synthetic.clock import IsoFormatter, Period
from endcap.synthetic.customers import APP, STORE, WEB, Records
from endcap.synthetic.people import People

CONSENT_COLUMNS = ("customer_id", "purpose", "status", "recorded_at", "source")
PURPOSES = ("targeting_onsite", "targeting_offsite", "email", "measurement")
OPT_IN_RATES = {
    "targeting_onsite": 0.70,
    "targeting_offsite": 0.35,
    "email": 0.45,
    "measurement": 0.85,
}
WITHDRAWAL_RATE = 0.04  # of granted consents, withdrawn later in the period
LATER_GRANT_RATE = 0.15  # granted later in the preference centre, not at sign-up
_LATENT_WEIGHT = 0.75
_SOURCES = ("store_signup", "web_account", "app", "preference_centre", "unsubscribe_link")
_SIGNUP_SOURCE = {STORE: 0, WEB: 1, APP: 2}


def consents_table(
    rng: np.random.Generator,
    people: People,
    records: Records,
    period: Period,
    iso: IsoFormatter,
) -> pa.Table:
    n = records.size
    latent = people.consent_latent[records.person]
    noise_weight = (1 - _LATENT_WEIGHT**2) ** 0.5
    signup_source = np.select(
        [records.kind == k for k in _SIGNUP_SOURCE], list(_SIGNUP_SOURCE.values())
    )
    rec_parts, purpose_parts, status_parts, time_parts, source_parts = [], [], [], [], []
    for p, purpose in enumerate(PURPOSES):
        score = _LATENT_WEIGHT * latent + noise_weight * rng.standard_normal(n)
        granted = np.flatnonzero(score < NormalDist().inv_cdf(OPT_IN_RATES[purpose]))
        created = records.created[granted]
        later = rng.random(granted.shape[0]) < LATER_GRANT_RATE
        room = np.maximum(period.end - 1 - created, 0)
        at = np.where(
            later,
            created + (rng.random(granted.shape[0]) * room).astype(np.int64),
            created + rng.integers(0, 600, granted.shape[0]),
        )
        source = np.where(later, 3, signup_source[granted])
        withdrawn = rng.random(granted.shape[0]) < WITHDRAWAL_RATE
        w_from = np.maximum(at + 1, period.start)
        w_at = w_from + (rng.random(granted.shape[0]) * np.maximum(period.end - w_from, 1)).astype(
            np.int64
        )
        w_at = np.maximum(w_at, at + 1)  # always strictly after the grant
        w_source = np.full(int(withdrawn.sum()), 4 if purpose == "email" else 3)
        rec_parts += [granted, granted[withdrawn]]
        purpose_parts += [np.full(granted.shape[0], p), np.full(int(withdrawn.sum()), p)]
        status_parts += [
            np.zeros(granted.shape[0], np.int64),
            np.ones(int(withdrawn.sum()), np.int64),
        ]
        time_parts += [at, w_at[withdrawn]]
        source_parts += [source, w_source]
    rec = np.concatenate(rec_parts)
    purpose_idx = np.concatenate(purpose_parts)
    status = np.concatenate(status_parts)
    order = np.lexsort((status, purpose_idx, rec))
    return pa.table(
        {
            "customer_id": pc.take(records.customer_id, pa.array(rec[order])),
            "purpose": pc.take(pa.array(PURPOSES), pa.array(purpose_idx[order])),
            "status": pc.take(pa.array(("granted", "withdrawn")), pa.array(status[order])),
            "recorded_at": iso.format(np.concatenate(time_parts)[order]),
            "source": pc.take(pa.array(_SOURCES), pa.array(np.concatenate(source_parts)[order])),
        }
    )
