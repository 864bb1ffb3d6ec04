"""Overlaps of audience versions as brand-facing numbers use them: counted once, then kept.

A version's size and reach are fixed at its refresh (the catalog shows them rounded);
its overlap with another version was counted afresh on every request, from live
members and live consent. Between two refreshes nothing else a brand sees moves, so a
single withdrawal or erasure moving an overlap (or flipping it between shown and
withheld) told a brand that one shopper in both audiences had just acted: the forecast
of a pair showed a union 100 larger than the larger audience, one second after one
withdrawal. So the overlap of two versions, and the counts on each side it is judged
with, are counted the first time a brand-facing number needs them and kept: every later
catalog overlap, forecast and booking on those versions reads the same numbers. A
refresh makes a new version, and with it a new count.

Kept per pair (in a fixed order of the two versions) and per consent purpose ("any" for
members holding the purpose of any channel, as the catalog counts sizes): the members of
each side holding it at that side's refresh (shown_consent.py), as its size and reach
count them, and of both. Two requests counting the same pair at once both
insert; the first insert stands and both read it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.models import FrozenOverlap
from endcap.db.base import table_of
from endcap.db.bulk import dialect_insert
from endcap.db.types import utcnow

FROZEN = table_of(FrozenOverlap)
ANY_CHANNEL = "any"  # the purpose key of an overlap among members consenting to any channel

VersionKey = tuple[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class PairCount:
    """Members of each side of a pair (in the order asked) and of both."""

    first: int
    second: int
    both: int

    def outside(self, side: int) -> int:
        """Members of side 0 (the first) or 1 that the other side does not hold."""
        return (self.first if side == 0 else self.second) - self.both


def _key_order(row: dict[str, Any]) -> tuple[str, int, str, int]:
    return (
        str(row["first_audience_id"]),
        row["first_version"],
        str(row["second_audience_id"]),
        row["second_version"],
    )


def _ordered(a: VersionKey, b: VersionKey) -> bool:
    return (str(a[0]), a[1]) <= (str(b[0]), b[1])


class FrozenOverlaps:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def read(
        self, versions: Sequence[VersionKey], purpose: str
    ) -> dict[tuple[int, int], PairCount]:
        """The kept counts of the pairs (i < j, by index into ``versions``) counted before."""
        if len(versions) < 2:
            return {}
        index = {key: i for i, key in enumerate(versions)}
        f = FROZEN.c
        wanted = [
            and_(
                f.first_audience_id == a[0],
                f.first_version == a[1],
                f.second_audience_id == b[0],
                f.second_version == b[1],
            )
            for a, b in self._pairs(versions)
        ]
        query = select(
            f.first_audience_id,
            f.first_version,
            f.second_audience_id,
            f.second_version,
            f.first_count,
            f.second_count,
            f.overlap,
        ).where(f.purpose == purpose, or_(*wanted))
        found: dict[tuple[int, int], PairCount] = {}
        for a_id, a_v, b_id, b_v, a_n, b_n, both in (await self.session.execute(query)).all():
            i, j = index[(a_id, int(a_v))], index[(b_id, int(b_v))]
            if i < j:
                found[(i, j)] = PairCount(int(a_n), int(b_n), int(both))
            else:
                found[(j, i)] = PairCount(int(b_n), int(a_n), int(both))
        return found

    async def counted(
        self,
        versions: Sequence[VersionKey],
        purpose: str,
        count: Callable[[], Awaitable[dict[tuple[int, int], PairCount]]],
    ) -> dict[tuple[int, int], PairCount]:
        """Every pair's kept counts (i < j, by index); the pairs not kept yet are counted
        now by ``count`` (every pair, live) and kept first."""
        found = await self.read(versions, purpose)
        pairs = len(versions) * (len(versions) - 1) // 2
        if len(found) < pairs:
            fresh = await count()
            await self.keep(versions, purpose, {k: v for k, v in fresh.items() if k not in found})
            found = await self.read(versions, purpose)
        return found

    async def keep(
        self, versions: Sequence[VersionKey], purpose: str, counts: dict[tuple[int, int], PairCount]
    ) -> None:
        """Keep ``counts`` (by index pair i < j) of pairs not kept yet; a pair kept meanwhile
        by another request stays as it was.

        Written on the session's connection, not through the session: a forecast's session
        refuses writes (db/reads_only.py), and this is the one it makes on purpose. Where
        that session runs in autocommit the insert commits alone; in a transaction (a
        booking's, or a forecast's outside a request) it commits with it."""
        rows = []
        now = utcnow()
        for (i, j), count in sorted(counts.items()):
            a, b = versions[i], versions[j]
            first, second = (a, b) if _ordered(a, b) else (b, a)
            a_n, b_n = (count.first, count.second) if first == a else (count.second, count.first)
            rows.append(
                {
                    "first_audience_id": first[0],
                    "first_version": first[1],
                    "second_audience_id": second[0],
                    "second_version": second[1],
                    "purpose": purpose,
                    "first_count": a_n,
                    "second_count": b_n,
                    "overlap": count.both,
                    "counted_at": now,
                }
            )
        if rows:
            # In key order, as every request inserts them: two first counts of the same
            # pairs then wait on each other instead of deadlocking.
            rows.sort(key=_key_order)
            connection = await self.session.connection()
            await connection.execute(
                dialect_insert(self.session, FROZEN).values(rows).on_conflict_do_nothing()
            )

    @staticmethod
    def _pairs(versions: Sequence[VersionKey]) -> list[tuple[VersionKey, VersionKey]]:
        return [
            (a, b) if _ordered(a, b) else (b, a)
            for i, a in enumerate(versions)
            for b in versions[i + 1 :]
        ]
