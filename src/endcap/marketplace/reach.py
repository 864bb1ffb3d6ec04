"""The reach of a campaign on several audiences, as a brand may see it.

A campaign reaches the *union* of its audiences: a shopper in two of them is
one person. Its reach on a channel is the union's consenting members, and the
brand sees it only in a form that tells it nothing the catalog does not.

Why not simply round the exact union: union(A, B) = A + B - overlap(A, B), so a
rounded union next to the catalog's rounded A and B gives the overlap to within
±150, also where the catalog's overlap endpoint says only "below the minimum";
and a union is a member set the difference check never saw, so a brand could
assemble "everyone but one shopper" from two publishable audiences and compare
it, at a rounding edge, with "everyone".

So the shown union is computed *only* from numbers released under the catalog's
own rules, never from the exact union:

- each audience's consented reach on the channel, as its catalog entry shows it
  (rounded to ``round_to``, listed only at or above the minimum);
- each pair's consented overlap on the channel, in exactly the form the overlap
  endpoint gives an overlap: rounded to ``round_to``, and nothing at all (taken
  as 0, as for disjoint audiences) below the minimum. Where that endpoint
  withholds it (one audience has 1 to k-1 consenting shoppers outside the
  other), the pair counts as nested: the overlap is the smaller shown reach,
  so the union shows as the larger audience, off by at most k-1 shoppers.

Whatever a brand derives from a forecast it could have derived from those
numbers, and no overlap reaches it more precisely than rounded and thresholded.
For two audiences the result is A + B - overlap. For three or more, only
pairwise overlaps are released (never a three-way one), so the result is an
upper estimate: audiences in order of reach, each adding what its largest
overlap with one before it leaves (``A_i - max_j<i overlap(i, j)``, never below
0). It is exact for nested and for disjoint audiences. An overlap hidden below
the minimum counts as none, so the shown union can exceed the true one by up to
the minimum per pair; the bookings and exports still reach each person once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def union_reach(reach: Sequence[int], overlap: Mapping[frozenset[int], int]) -> int:
    """The shown reach of the union of audiences ``0 .. len(reach) - 1`` on one channel.

    ``reach[i]`` is audience i's shown reach; ``overlap[frozenset({i, j})]`` the shown
    overlap of audiences i and j (a pair left out, or 0, means none shown). Both must
    already be in brand-facing form (see the module docstring): the result is then a
    multiple of the rounding step, at least the largest reach and at most their sum.
    """
    order = sorted(range(len(reach)), key=lambda i: (-reach[i], i))
    total = 0
    for k, i in enumerate(order):
        shared = max((overlap.get(frozenset((i, j)), 0) for j in order[:k]), default=0)
        total += max(0, reach[i] - shared)
    return total
