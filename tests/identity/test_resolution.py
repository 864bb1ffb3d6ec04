"""Key-chain resolution as pure functions: connected components, and the assignment of
profile ids with its merge/split history. Examples first, then properties on random
small graphs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from endcap.identity.resolution import assign, components


def ids(*values: int) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def resolve(
    customers: list[int], edges: list[tuple[int, int]], current: list[int], next_id: int
) -> tuple[list[int], list[tuple[int, int, str, int]], int]:
    edge_customers = ids(*(c for c, _ in edges))
    edge_idents = ids(*(i for _, i in edges))
    labels = components(ids(*customers), edge_customers, edge_idents)
    assigned, history, after = assign(ids(*customers), ids(*current), labels, next_id)
    return [int(p) for p in assigned], history, after


def test_records_without_identifiers_get_a_profile_each_in_customer_order() -> None:
    assert resolve([10, 20, 30], [], [0, 0, 0], 1) == ([1, 2, 3], [], 4)


def test_a_shared_identifier_joins_records_and_the_chain_is_transitive() -> None:
    # 10 -(ident 1)- 20 -(ident 2)- 30; 40 alone.
    edges = [(10, 1), (20, 1), (20, 2), (30, 2), (40, 3)]
    assert resolve([10, 20, 30, 40], edges, [0, 0, 0, 0], 7) == ([7, 7, 7, 8], [], 9)


def test_a_merge_keeps_the_lowest_profile_and_records_the_other_as_merged() -> None:
    assigned, history, after = resolve([1, 2, 3], [(1, 1), (3, 1)], [5, 6, 4], 9)
    # Customers 1 and 3 are one person now: the lowest existing profile (4) survives.
    assert assigned == [4, 6, 4]
    assert history == [(5, 4, "merge", 1)]
    assert after == 9


def test_a_split_gives_the_leaving_records_a_new_profile_and_says_so() -> None:
    # 1, 2 and 3 were one profile (5); now 2 and 3 are linked to each other but not to 1.
    assigned, history, after = resolve([1, 2, 3], [(2, 1), (3, 1)], [5, 5, 5], 9)
    assert assigned == [5, 9, 9]
    assert history == [(5, 9, "split", 2)]
    assert after == 10


def test_resolving_the_result_again_changes_nothing() -> None:
    edges = [(1, 1), (3, 1), (2, 2), (4, 2), (5, 3)]
    first, _, after = resolve([1, 2, 3, 4, 5, 6], edges, [0, 0, 3, 0, 8, 0], 20)
    again, history, after_again = resolve([1, 2, 3, 4, 5, 6], edges, first, after)
    assert again == first
    assert history == []
    assert after_again == after


def test_no_customers_is_no_work() -> None:
    assert components(ids(), ids(), ids()).tolist() == []
    assigned, history, after = assign(ids(), ids(), ids(), 1)
    assert (assigned.tolist(), history, after) == ([], [], 1)


# -- properties --------------------------------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, int]], list[int], int]:
    count = draw(st.integers(min_value=1, max_value=12))
    customers = sorted(draw(st.sets(st.integers(1, 1000), min_size=count, max_size=count)))
    identifiers = draw(st.integers(min_value=1, max_value=8))
    edges = draw(
        st.lists(
            st.tuples(st.sampled_from(customers), st.integers(1, identifiers)),
            max_size=20,
            unique=True,
        )
    )
    current = draw(st.lists(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6]), min_size=count,
                            max_size=count))  # fmt: skip
    next_id = draw(st.integers(min_value=7, max_value=50))
    return customers, edges, current, next_id


def reference_components(customers: list[int], edges: list[tuple[int, int]]) -> dict[int, int]:
    """Union-find over customers joined by an identifier: customer -> its component root."""
    parent = {c: c for c in customers}

    def find(c: int) -> int:
        while parent[c] != c:
            c = parent[c]
        return c

    by_identifier: dict[int, list[int]] = {}
    for customer, identifier in edges:
        by_identifier.setdefault(identifier, []).append(customer)
    for members in by_identifier.values():
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    return {c: find(c) for c in customers}


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_assignment_properties_on_random_graphs(
    graph: tuple[list[int], list[tuple[int, int]], list[int], int],
) -> None:
    customers, edges, current, next_id = graph
    assigned, history, after = resolve(customers, edges, current, next_id)
    profile_of = dict(zip(customers, assigned, strict=True))
    component_of = reference_components(customers, edges)

    # Every customer gets a profile.
    assert all(p > 0 for p in assigned)
    # Customers in one component share a profile; different components never do.
    for a in customers:
        for b in customers:
            same = component_of[a] == component_of[b]
            assert (profile_of[a] == profile_of[b]) == same
    # In particular, customers sharing an identifier share a profile.
    for _, identifier in edges:
        holders = {profile_of[c] for c, i in edges if i == identifier}
        assert len(holders) == 1
    # Existing ids are reused: a component gets a fresh id only when every existing id of
    # its members went to another component; fresh ids are handed out from next_id on.
    members: dict[int, list[int]] = {}
    for index, customer in enumerate(customers):
        members.setdefault(component_of[customer], []).append(index)
    fresh = sorted(p for p in set(assigned) if p >= next_id)
    assert fresh == list(range(next_id, after))
    for indexes in members.values():
        profile = assigned[indexes[0]]
        existing = {current[i] for i in indexes if current[i]}
        if profile >= next_id:
            for old in existing:
                assert old in assigned
                assert old != profile
        else:
            assert profile in existing
    # The history accounts for every record that changed profile.
    moved = sum(1 for c, a in zip(current, assigned, strict=True) if c and c != a)
    assert sum(n for *_, n in history) == moved
    for old, new, kind, count in history:
        assert kind == ("split" if old in assigned else "merge")
        assert count == sum(
            1 for c, a in zip(current, assigned, strict=True) if c == old and a == new
        )
    # Deterministic: edge order and identifier numbering do not matter.
    relabel = {i: 100 - i for _, i in edges}
    shuffled = [(c, relabel[i]) for c, i in reversed(edges)]
    again, history_again, after_again = resolve(customers, shuffled, current, next_id)
    assert (again, after_again) == (assigned, after)
    assert sorted(history_again) == sorted(history)
    # And repeatable: resolving the outcome again moves nobody.
    stable, no_history, _ = resolve(customers, edges, assigned, after)
    assert (stable, no_history) == (assigned, [])
