"""The difference check: no two member sets a brand can see may differ by only a few people.

If a brand can see audience A and also "A minus one shopper", every number
about the pair (reach, sales, exposures) differs by exactly that shopper. So a
new release (an audience, or a report row's set of profiles) is refused when
its symmetric difference with any set already visible to the same brand is
non-zero but smaller than ``k``. "Visible" means ever shown: a brand keeps what it
saw after that audience is deleted or changed (audiences/service.py compares with
every released version).

An identical member set is allowed: it is the same release again, and every
aggregate over it is one the brand already has. The check is pairwise, as the
design asks; a difference built from three or more sets (A minus B minus C) is
not caught here.

Member sets are numpy int64 arrays of profile ids, sorted and unique (see
:func:`member_set`). Cost per visible set of ``n`` and ``m`` members: O(1)
when the sizes alone differ by ``k`` or more (their difference cannot be
smaller than that), else O(min(n, m) · log max(n, m)) time and O(min(n, m))
memory, by binary search of the smaller set in the larger one. That is 20 to
50 ms for two sets of a million on one core, where ``np.intersect1d`` (a sort
of both together) takes about 160 ms. A sketch (MinHash, HyperLogLog) would be
cheaper still but cannot tell "49 apart" from "51 apart" in a million, and
this rule must be exact.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from endcap.errors import ConflictError
from endcap.privacy.settings import K_THRESHOLD

MemberSet = npt.NDArray[np.int64]
ReleaseId = TypeVar("ReleaseId", bound=Hashable)


class TooSimilarAudienceError(ConflictError):
    """The release differs from one brands have been shown by fewer than ``k`` profiles.

    A 409: the request is well formed; it is what the brand already has that
    blocks it. The message names the visible audience (the brand knows it) and
    the threshold (public policy), never the size of the difference.
    """

    problem_type = "audience-too-similar"
    title = "Audience too similar"

    def __init__(self, conflicts_with: Hashable, *, k: int, release: str = "this audience") -> None:
        super().__init__(
            f"{release} is too similar to audience {conflicts_with}, which brands have "
            f"been shown (and keep what they saw, even if it was changed or deleted since): "
            f"audiences shown to brands must differ by at least {k} profiles",
            conflicts_with=conflicts_with,
        )
        self.conflicts_with = conflicts_with


@dataclass(frozen=True, slots=True)
class NearDuplicate(Generic[ReleaseId]):
    """A visible set too close to the release. ``difference`` is for the retailer only."""

    visible_id: ReleaseId
    difference: int


def member_set(profile_ids: npt.ArrayLike) -> MemberSet:
    """``profile_ids`` as the sorted, unique int64 array the check expects.

    O(n) when already sorted (as ``ORDER BY profile_id`` returns them), else
    O(n log n). Not ``np.unique``, which takes about 2 s for a million ids on
    numpy 2.4 against about 0.1 s for a sort and a mask.
    """
    ids = np.asarray(profile_ids, dtype=np.int64).ravel()
    if len(ids) > 1 and not bool(np.all(ids[1:] >= ids[:-1])):
        ids = np.sort(ids)
    if len(ids) > 1:
        ids = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]
    members: MemberSet = ids
    return members


def could_be_near_duplicates(size_a: int, size_b: int, *, k: int = K_THRESHOLD) -> bool:
    """False when two sets of these sizes cannot differ by fewer than ``k`` (|A Δ B| >= |a - b|).

    A caller holding many visible audiences can use it to load only those whose
    size is within ``k`` of the release.
    """
    return abs(size_a - size_b) < k


def could_be_near_shrunk(size: int, released_size: int, lost: int, *, k: int = K_THRESHOLD) -> bool:
    """:func:`could_be_near_duplicates` for a set released at ``released_size`` that has
    since lost at most ``lost`` members (erasures): False only when no size it can have
    now is within ``k`` of ``size``."""
    return released_size - lost - k < size < released_size + k


def overlap_singles_out(only_first: int, only_second: int, *, k: int = K_THRESHOLD) -> bool:
    """Whether an overlap of two visible audiences must be withheld: one of them has 1 to
    k-1 shoppers outside the other. Their overlap is then that audience's size minus
    those few, the difference the check exists to hide; the pair itself may be far enough
    apart to publish (a few shoppers out of one side, many more into the other)."""
    return 0 < only_first < k or 0 < only_second < k


def symmetric_difference_size(a: MemberSet, b: MemberSet) -> int:
    """|a Δ b| for two sorted unique arrays; ValueError if either is not one."""
    _check_member_set(a)
    _check_member_set(b)
    return _difference(a, b)


def _difference(a: MemberSet, b: MemberSet) -> int:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if len(small) == 0:
        return len(large)
    at = np.searchsorted(large, small)
    at[at == len(large)] = 0  # past the end: compare with any element, it cannot match
    common = int(np.count_nonzero(large[at] == small))
    return len(a) + len(b) - 2 * common


def near_duplicates(
    release: MemberSet,
    visible: Iterable[tuple[ReleaseId, MemberSet]],
    *,
    k: int = K_THRESHOLD,
) -> Iterator[NearDuplicate[ReleaseId]]:
    """Each visible ``(id, members)`` whose members differ from ``release`` by 1 to k-1 profiles.

    Lazy, in the order of ``visible``, so a generator can load visible sets one
    at a time and the first conflict stops the work.
    """
    _check_member_set(release)
    for visible_id, members in visible:
        if not could_be_near_duplicates(len(release), len(members), k=k):
            continue
        _check_member_set(members)
        difference = _difference(release, members)
        if 0 < difference < k:
            yield NearDuplicate(visible_id, difference)


def ensure_not_near_duplicate(
    release: MemberSet,
    visible: Iterable[tuple[ReleaseId, MemberSet]],
    *,
    k: int = K_THRESHOLD,
    described_as: str = "this audience",
) -> None:
    """Raise :class:`TooSimilarAudienceError` naming the first visible set that is too close
    (``described_as`` names the release in its message).

    Safe to show a brand: the error carries the visible audience's id and ``k``,
    not how many profiles set the two apart.
    """
    conflict = next(near_duplicates(release, visible, k=k), None)
    if conflict is not None:
        raise TooSimilarAudienceError(conflict.visible_id, k=k, release=described_as)


def _check_member_set(members: MemberSet) -> None:
    if members.ndim != 1 or members.dtype != np.int64:
        raise ValueError("a member set is a one-dimensional int64 array")
    if len(members) > 1 and not bool(np.all(members[1:] > members[:-1])):
        raise ValueError("a member set must be sorted and unique (use member_set())")
