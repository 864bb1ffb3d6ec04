"""Queries on audiences, their versions and members (the rule queries are in repository.py)."""

from __future__ import annotations

import bisect
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlmodel import col
from sqlmodel import select as model_select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.repository import PROFILE_MOVES_LOCK
from endcap.audiences.frozen_overlaps import PairCount
from endcap.audiences.models import Audience, AudienceMember, AudienceStatus, AudienceVersion
from endcap.audiences.shown_consent import ANY_PURPOSE, PURPOSE_BITS, held_now, holds
from endcap.consent.models import Purpose
from endcap.consent.repository import consented_profiles
from endcap.db.base import table_of
from endcap.db.bulk import drop_staged, staged_rows
from endcap.db.locks import hold_lock, take_sqlite_write_lock
from endcap.db.types import utcnow
from endcap.identity.models import Profile
from endcap.pagination import PageRequest, keyset
from endcap.privacy.models import ErasureTombstone

MEMBERS = table_of(AudienceMember)
PROFILES = table_of(Profile)
PUBLICATION_LOCK = "audience-publication"
FETCH_ROWS = 100_000
# How long before a version's refresh an erasure still counts as one that may have come
# after it (released_versions).
ERASURE_MARGIN = timedelta(days=1)


# What brands can book: a published audience, with its current version. Joins on these
# (here, and where a booking locks its campaign) say it once.
IS_PUBLISHED = col(Audience.status) == AudienceStatus.PUBLISHED
IS_CURRENT_VERSION = and_(
    col(AudienceVersion.audience_id) == col(Audience.id),
    col(AudienceVersion.version) == col(Audience.current_version),
)
_PUBLISHED = (
    model_select(Audience, AudienceVersion)
    .join(AudienceVersion, IS_CURRENT_VERSION)
    .where(IS_PUBLISHED)
    .order_by(col(Audience.name))
)
# Built once: every forecast and booking runs it for each of its audiences.
_ONE_PUBLISHED = _PUBLISHED.where(col(Audience.id) == bindparam("p_audience"))
# As it is now, not as the session last read it: the revision checked is the one written.
_LOCK_AUDIENCE = (
    model_select(Audience)
    .where(col(Audience.id) == bindparam("p_audience"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


@dataclass(frozen=True, slots=True)
class ReleasedVersion:
    """An audience version brands have been shown: its size, its reach per channel and the
    definition it was computed from (None before migration 0027), and how many customer
    records erasures have removed since its refresh, when its numbers were counted (each
    erased member took one or more with it: at most that many members are gone)."""

    audience_id: uuid.UUID
    version: int
    size: int
    reach: dict[str, int]
    definition: str | None
    erased_since: int = 0
    consented_size: int | None = None  # None before migration 0029: brands saw ``size``


class MembershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, audience_id: uuid.UUID) -> Audience | None:
        return await self.session.get(Audience, audience_id)

    async def get_for_update(self, audience_id: uuid.UUID) -> Audience | None:
        """The audience as committed now, locked until this transaction ends: a change that
        checked its revision (If-Match) writes over that revision and no other, and a second
        change checked against the same revision waits, then sees the first's."""
        await take_sqlite_write_lock(self.session, table_of(Audience))
        found = await self.session.exec(_LOCK_AUDIENCE, params={"p_audience": audience_id})
        return found.first()

    async def by_name(self, name: str) -> Audience | None:
        """The audience (not deleted) of that name: a deleted one leaves its name free."""
        named = model_select(Audience).where(
            col(Audience.name) == name, col(Audience.status) != AudienceStatus.DELETED
        )
        return (await self.session.exec(named)).first()

    async def add(self, audience: Audience) -> Audience:
        self.session.add(audience)
        await self.session.flush()
        return audience

    async def list_page(self, page: PageRequest, status: AudienceStatus | None) -> list[Audience]:
        """Audiences of ``status``; without one, all but the deleted."""
        stmt = model_select(Audience)
        if status is None:
            stmt = stmt.where(col(Audience.status) != AudienceStatus.DELETED)
        else:
            stmt = stmt.where(col(Audience.status) == status)
        stmt = keyset(stmt, col(Audience.created_at), col(Audience.id), page)
        return list((await self.session.exec(stmt)).all())

    async def lock_publication(self) -> None:
        """Wait for, then hold until this transaction ends, the lock every change to what
        brands can see of audiences takes before its difference check (a PostgreSQL
        advisory lock). SQLite has one writer: a write that changes nothing takes its lock
        before the check reads, as a read transaction that writes later would fail once
        another had committed meanwhile."""
        await hold_lock(self.session, PUBLICATION_LOCK, sqlite_write_lock=table_of(Audience))

    async def published_versions(
        self, audience_id: uuid.UUID | None = None
    ) -> list[tuple[Audience, AudienceVersion]]:
        """Published audiences (or the one asked for, if published) with their current
        version, by name, in one query: the catalog and every forecast and booking read it.
        """
        if audience_id is None:
            return list((await self.session.exec(_PUBLISHED)).all())
        found = await self.session.exec(_ONE_PUBLISHED, params={"p_audience": audience_id})
        return list(found.all())

    async def released_versions(self) -> list[ReleasedVersion]:
        """Every version brands have been shown, whatever its audience is now (deleted,
        changed, refreshed since): what the difference check compares a new release with."""
        v, t = table_of(AudienceVersion).c, table_of(ErasureTombstone).c
        erasures = (
            await self.session.execute(
                select(t.erased_at, t.customers_removed).order_by(t.erased_at)
            )
        ).all()
        times = [at for at, _ in erasures]
        removed = list(itertools.accumulate((int(n) for _, n in erasures), initial=0))
        query = select(
            v.audience_id,
            v.version,
            v.size,
            v.reach,
            v.definition,
            v.refreshed_at,
            v.consented_size,
        )
        found = []
        for a, n, size, reach, definition, refreshed_at, consented in (
            await self.session.execute(query.where(v.released_at.is_not(None)))
        ).all():
            # Its numbers were counted at its refresh, which may be days before its
            # release (a draft published later): erasures since then shrank the members
            # behind them. An erasure is stamped before its commit, which may come after
            # a refresh read its member (a file rewrite can take minutes): a day's margin.
            since = bisect.bisect_left(times, refreshed_at - ERASURE_MARGIN)
            erased = removed[-1] - removed[since]
            found.append(
                ReleasedVersion(a, int(n), int(size), dict(reach), definition, erased, consented)
            )
        return found

    async def release(self, audience_id: uuid.UUID, version: int) -> None:
        """Mark ``version`` as shown to brands (its first showing is kept)."""
        v = table_of(AudienceVersion).c
        await self.session.execute(
            update(table_of(AudienceVersion))
            .where(v.audience_id == audience_id, v.version == version, v.released_at.is_(None))
            .values(released_at=utcnow())
        )

    async def version(self, audience_id: uuid.UUID, version: int) -> AudienceVersion | None:
        return await self.session.get(AudienceVersion, (audience_id, version))

    async def store_members(
        self, audience_id: uuid.UUID, version: int, members: Select[Any]
    ) -> int:
        """Write the members ``members`` selects as ``version`` (one INSERT ... SELECT), each
        with the consent purposes it holds now (shown_consent.py).

        Erasures and key-chain merges (which hold the profile-moves lock exclusively) wait
        from here to the commit, and the ones committed before are seen: an erasure
        deletes the members it can see, so one committing while these rows were written
        left its shopper in the version. Only ids whose profile still exists are written
        (a model's were read long before)."""
        await hold_lock(self.session, PROFILE_MOVES_LOCK, shared=True)
        ids = members.subquery()
        held = held_now()
        query = (
            select(
                literal(audience_id, MEMBERS.c.audience_id.type),
                literal(version),
                ids.c[0],
                func.coalesce(held.c.bits, 0),
            )
            .join(PROFILES, PROFILES.c.id == ids.c[0])
            .outerjoin(held, held.c.profile_id == ids.c[0])
        )
        columns = ["audience_id", "version", "profile_id", "purposes_at_refresh"]
        await self.session.execute(insert(MEMBERS).from_select(columns, query))
        return await self.count(audience_id, version)

    async def store_member_ids(
        self, audience_id: uuid.UUID, version: int, profile_ids: np.ndarray
    ) -> int:
        """Write a computed member list (a model's) as ``version``, stamped as
        :meth:`store_members` stamps them: the ids go through a temporary table (one COPY
        on PostgreSQL), then the same INSERT ... SELECT."""
        ids = pa.table({"profile_id": pa.array(profile_ids.astype(np.int64))})
        staged = await staged_rows(self.session, "members", [Column("profile_id", BigInteger)], ids)
        try:
            return await self.store_members(audience_id, version, select(staged.c.profile_id))
        finally:
            await drop_staged(self.session, staged)

    async def shown_counts(self, audience_id: uuid.UUID, version: int) -> dict[int, int]:
        """Per purpose bit (shown_consent.PURPOSE_BITS), and for ANY_PURPOSE, the members
        of a version that held it at its refresh: its reach and consented size."""
        bits = MEMBERS.c.purposes_at_refresh
        masks = [*PURPOSE_BITS.values(), ANY_PURPOSE]
        query = select(*(func.count().filter(holds(bits, mask)) for mask in masks)).where(
            MEMBERS.c.audience_id == audience_id, MEMBERS.c.version == version
        )
        counted = (await self.session.execute(query)).one()
        return {mask: int(n) for mask, n in zip(masks, counted, strict=True)}

    def members(self, audience_id: uuid.UUID, version: int) -> Select[Any]:
        m = MEMBERS.c
        return select(m.profile_id).where(m.audience_id == audience_id, m.version == version)

    async def count(self, audience_id: uuid.UUID, version: int) -> int:
        query = select(func.count()).select_from(self.members(audience_id, version).subquery())
        return int((await self.session.execute(query)).scalar_one())

    async def reach(self, audience_id: uuid.UUID, version: int, purpose: Purpose) -> int:
        """Members holding ``purpose`` consent right now."""
        consented = consented_profiles(purpose).subquery()
        query = (
            select(func.count())
            .select_from(MEMBERS)
            .join(consented, consented.c.profile_id == MEMBERS.c.profile_id)
            .where(MEMBERS.c.audience_id == audience_id, MEMBERS.c.version == version)
        )
        return int((await self.session.execute(query)).scalar_one())

    async def shown_overlaps(
        self, versions: Sequence[tuple[uuid.UUID, int]], bits: int
    ) -> dict[tuple[int, int], PairCount]:
        """Per pair of ``versions`` (i < j, by index, those sharing no one too): members of
        each side who held a purpose of ``bits`` at its refresh, and of both sides; each
        side's own count is its reach or consented size as brands were shown it, erased
        shoppers gone (shown_consent.py).

        One pass over the members: each shopper gets a bit mask of the versions holding
        them so stamped (at most 2**len(versions) groups), and each group counts toward
        every version and every pair its mask holds."""
        m = MEMBERS.c
        chosen = [and_(m.audience_id == a, m.version == v) for a, v in versions]
        # Bits as inline constants: a CASE of bound parameters has no type PostgreSQL can sum.
        bit = case(
            *((where, literal_column(str(1 << i), Integer)) for i, where in enumerate(chosen)),
            else_=literal_column("0", Integer),
        )
        shoppers = (
            select(m.profile_id, func.sum(bit).label("mask"))
            .where(or_(*chosen), holds(m.purposes_at_refresh, bits))
            .group_by(m.profile_id)
            .subquery("shoppers")
        )
        query = select(shoppers.c.mask, func.count()).group_by(shoppers.c.mask)
        members: dict[int, int] = {}
        overlaps: dict[tuple[int, int], int] = {}
        for mask, count in (await self.session.execute(query)).all():
            held = [i for i in range(len(versions)) if int(mask) >> i & 1]
            for k, i in enumerate(held):
                members[i] = members.get(i, 0) + int(count)
                for j in held[k + 1 :]:
                    overlaps[(i, j)] = overlaps.get((i, j), 0) + int(count)
        n = len(versions)
        return {
            (i, j): PairCount(members.get(i, 0), members.get(j, 0), overlaps.get((i, j), 0))
            for i in range(n)
            for j in range(i + 1, n)
        }

    async def overlap(self, a: tuple[uuid.UUID, int], b: tuple[uuid.UUID, int]) -> int:
        first, second = self.members(*a).subquery(), self.members(*b).subquery()
        query = (
            select(func.count())
            .select_from(first)
            .join(second, second.c.profile_id == first.c.profile_id)
        )
        return int((await self.session.execute(query)).scalar_one())

    async def member_ids(
        self, audience_id: uuid.UUID, version: int, shown: int | None = None
    ) -> np.ndarray:
        """Sorted member ids (for the difference check), fetched in chunks; with ``shown``
        (purpose bits, shown_consent.py), only those who held one of them at the refresh:
        the members behind a reach or consented size brands were shown."""
        query = self.members(audience_id, version).order_by(MEMBERS.c.profile_id)
        if shown is not None:
            query = query.where(holds(MEMBERS.c.purposes_at_refresh, shown))
        result = await self.session.stream(query.execution_options(yield_per=FETCH_ROWS))
        parts = [
            np.fromiter((r[0] for r in chunk), dtype=np.int64, count=len(chunk))
            async for chunk in result.partitions(FETCH_ROWS)
        ]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    async def add_version(self, version: AudienceVersion) -> AudienceVersion:
        self.session.add(version)
        await self.session.flush()
        return version
