"""Key chains: customer records that share an identifier are one profile.

Profiles are the connected components of the graph whose nodes are customer
records and identifiers. Identifiers on more records than the threshold are
shared (a house card, a family e-mail) and link nothing. Resolution is
deterministic: a component keeps the lowest existing profile id among its
records that no earlier component (by lowest customer id) has kept; a component
without one gets a fresh id. Profiles folded into another are recorded as
merges, records leaving a profile that lives on elsewhere as splits; the contacts
delivered activations recorded follow the records, in the same transaction
(:func:`endcap.activation.contacts.follow_profiles`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.contacts import follow_profiles, hold_back_recordings
from endcap.db.types import utcnow
from endcap.identity.repository import IdentityRepository
from endcap.traits.staleness import lock_traits


@dataclass(frozen=True, slots=True)
class ResolutionReport:
    customers: int
    profiles: int
    new_profiles: int
    customers_moved: int
    merges: int
    splits: int
    shared_identifiers: int

    def as_dict(self) -> dict[str, int]:
        return {field: getattr(self, field) for field in self.__dataclass_fields__}


def components(
    customer_ids: np.ndarray, edge_customers: np.ndarray, edge_idents: np.ndarray
) -> np.ndarray:
    """Component label per customer (index-aligned with the sorted ``customer_ids``)."""
    n = len(customer_ids)
    if n == 0:
        return np.empty(0, np.int64)
    rows = np.searchsorted(customer_ids, edge_customers)
    idents = n + edge_idents - 1  # identifier numbers start at 1
    size = n + (int(edge_idents.max()) if len(edge_idents) else 0)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, idents)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    result: np.ndarray = labels[:n].astype(np.int64)
    return result


def assign(
    customer_ids: np.ndarray, current: np.ndarray, labels: np.ndarray, next_id: int
) -> tuple[np.ndarray, list[tuple[int, int, str, int]], int]:
    """New profile id per customer, the merge/split history, and the next free id.

    ``current`` holds 0 for customers without a profile yet.
    """
    if len(customer_ids) == 0:
        return np.empty(0, np.int64), [], next_id
    order = np.lexsort((customer_ids, labels))  # by component, then customer id
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    ends = np.r_[starts[1:], len(order)]
    # Components in order of their lowest customer id, so the outcome never depends on labels.
    anchors = customer_ids[order[starts]]
    component_order = np.argsort(anchors, kind="stable")
    assigned = np.zeros(len(customer_ids), dtype=np.int64)
    taken: set[int] = set()
    kept_by: dict[int, int] = {}
    history: list[tuple[int, int, str, int]] = []
    for k in component_order:
        members = order[starts[k] : ends[k]]
        existing = sorted({int(p) for p in current[members] if p})
        profile = next((p for p in existing if p not in taken), None)
        if profile is None:
            profile = next_id
            next_id += 1
        taken.add(profile)
        kept_by[profile] = int(k)
        assigned[members] = profile
        for old in existing:
            if old != profile:
                moved = int(np.count_nonzero(current[members] == old))
                history.append((old, profile, "pending", moved))
    # An old profile that survives in another component lost records to this one: a split.
    resolved = [
        (old, new, "split" if old in taken else "merge", moved) for old, new, _, moved in history
    ]
    return assigned, resolved, next_id


async def resolve(session: AsyncSession, *, shared_threshold: int) -> ResolutionReport:
    """Re-resolve every customer record into profiles (inside the caller's transaction)."""
    # First, before anything touches profiles: moving customers marks profiles stale,
    # which waits for a running trait refresh, and that refresh locks profiles at its end
    # (traits/repository.py ``drop_erased``); holding rows of profiles while waiting for
    # it would deadlock the two.
    await lock_traits(session)
    repository = IdentityRepository(session)
    shared = await repository.flag_shared(shared_threshold)
    customer_ids, current = await repository.customers()
    edge_customers, edge_idents = await repository.linking_edges()
    labels = components(customer_ids, edge_customers, edge_idents)
    first_new = await repository.next_profile_id()
    assigned, history, next_id = assign(customer_ids, current, labels, first_new)
    await repository.add_profiles(np.arange(first_new, next_id, dtype=np.int64))
    moved = assigned != current
    await repository.move_customers(customer_ids[moved], assigned[moved])
    # Recordings wait from here to the commit: an export that read its shoppers before
    # then sees these moves as newer than it read (activation/contacts.py).
    await hold_back_recordings(session)
    now = utcnow()
    await repository.record_merges(
        [
            {
                "from_profile_id": old,
                "into_profile_id": new,
                "kind": kind,
                "customers_moved": n,
                "happened_at": now,
            }
            for old, new, kind, n in history
        ]
    )
    await follow_profiles(session, [(old, new, kind == "merge") for old, new, kind, _ in history])
    await repository.drop_profiles_without_customers(
        [old for old, _, kind, _ in history if kind == "merge"]
    )
    return ResolutionReport(
        customers=len(customer_ids),
        profiles=len(np.unique(assigned)) if len(assigned) else 0,
        new_profiles=next_id - first_new,
        customers_moved=int(np.count_nonzero(moved)),
        merges=sum(1 for h in history if h[2] == "merge"),
        splits=sum(1 for h in history if h[2] == "split"),
        shared_identifiers=shared,
    )
