"""Queries on profiles, customers, identifiers and the merge history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Column,
    delete,
    exists,
    func,
    insert,
    union,
    union_all,
    update,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.consent.state import refresh_consents
from endcap.db.base import table_of
from endcap.db.bulk import copy_rows, drop_staged, staged_ids, staged_rows
from endcap.db.types import utcnow
from endcap.identity.models import (
    Customer,
    Identifier,
    IdType,
    Profile,
    ProfileMerge,
    SharedIdentifier,
)
from endcap.purchases.models import TransactionLine
from endcap.traits.staleness import mark_stale

FETCH_ROWS = 100_000  # rows per fetched chunk when reading graph edges into numpy
PROFILES = table_of(Profile)
CUSTOMERS = table_of(Customer)
IDENTIFIERS = table_of(Identifier)
SHARED = table_of(SharedIdentifier)
MERGES = table_of(ProfileMerge)
TRANSACTIONS = table_of(TransactionLine)


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- resolution ------------------------------------------------------------------------

    async def flag_shared(self, threshold: int) -> int:
        """Replace the shared-identifier flags: identifiers on more than ``threshold`` records."""
        i = IDENTIFIERS.c
        await self.session.execute(delete(SHARED))
        counted = (
            select(i.id_type, i.id_value, func.count().label("n"), func.current_timestamp())
            .group_by(i.id_type, i.id_value)
            .having(func.count() > threshold)
        )
        result = await self.session.execute(
            insert(SHARED).from_select(
                ["id_type", "id_value", "customer_count", "flagged_at"], counted
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def customers(self) -> tuple[np.ndarray, np.ndarray]:
        """(customer ids, current profile ids with 0 for none), ordered by customer id."""
        query = select(CUSTOMERS.c.id, func.coalesce(CUSTOMERS.c.profile_id, 0)).order_by(
            CUSTOMERS.c.id
        )
        return await self._two_columns(query)

    async def linking_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(customer id, identifier number) for every identifier that may merge records."""
        i = IDENTIFIERS.c
        shared = exists().where(SHARED.c.id_type == i.id_type, SHARED.c.id_value == i.id_value)
        ident = func.dense_rank().over(order_by=(i.id_type, i.id_value))
        return await self._two_columns(select(i.customer_ref, ident).where(~shared))

    async def _two_columns(self, query: Any) -> tuple[np.ndarray, np.ndarray]:
        """Two integer columns as numpy arrays, fetched in chunks.

        np.fromiter over the rows costs a fraction of np.asarray on a list of Row
        objects (15 µs a row, which made a million-profile resolution take minutes),
        and the rows never pile up in memory all at once.
        """
        result = await self.session.stream(query.execution_options(yield_per=FETCH_ROWS))
        firsts: list[np.ndarray] = []
        seconds: list[np.ndarray] = []
        async for partition in result.partitions(FETCH_ROWS):
            firsts.append(
                np.fromiter((r[0] for r in partition), dtype=np.int64, count=len(partition))
            )
            seconds.append(
                np.fromiter((r[1] for r in partition), dtype=np.int64, count=len(partition))
            )
        if not firsts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(firsts), np.concatenate(seconds)

    async def next_profile_id(self) -> int:
        """Past every profile's id and every id the merge history names: those name
        profiles merged away, and a new shopper given one would be taken for the old one
        by whatever follows that history (an erasure of the survivor, contacts). An erased
        shopper's id may come back (the erasure deletes its merge rows too): nothing is
        kept under it."""
        m = MERGES.c
        highest = union_all(
            select(func.max(PROFILES.c.id)),
            select(func.max(m.from_profile_id)),
            select(func.max(m.into_profile_id)),
        ).subquery()
        current = (await self.session.execute(select(func.max(highest.c[0])))).scalar_one()
        return int(current or 0) + 1

    async def add_profiles(self, ids: np.ndarray) -> None:
        stamp = pa.array([utcnow()] * len(ids), pa.timestamp("us", tz="UTC"))
        rows = pa.table({"id": pa.array(ids, pa.int64()), "created_at": stamp})
        await copy_rows(self.session, PROFILES, rows)

    async def move_customers(self, customer_ids: np.ndarray, profile_ids: np.ndarray) -> None:
        """Point customers at new profiles; keep their transactions' profile_id and both
        sides' consent state in step."""
        if len(customer_ids) == 0:
            return
        moves = await staged_rows(
            self.session,
            "moves",
            [
                Column("customer_ref", BigInteger, primary_key=True),
                Column("profile_id", BigInteger, nullable=False),
            ],
            pa.table(
                {
                    "customer_ref": pa.array(customer_ids, pa.int64()),
                    "profile_id": pa.array(profile_ids, pa.int64()),
                }
            ),
        )
        c, m, t = CUSTOMERS.c, moves.c, TRANSACTIONS.c
        # Both sides of every move: the purchases and the consents leave one profile and
        # join another.
        leaving = select(c.profile_id).join(moves, c.id == m.customer_ref)
        await mark_stale(self.session, leaving)
        await mark_stale(self.session, select(m.profile_id))
        touched = await staged_ids(
            self.session, "moved_profiles", union(leaving, select(m.profile_id))
        )
        await self.session.execute(
            update(CUSTOMERS).values(profile_id=m.profile_id).where(c.id == m.customer_ref)
        )
        await self.session.execute(
            update(TRANSACTIONS)
            .values(profile_id=m.profile_id)
            .where(t.customer_id == c.customer_id, c.id == m.customer_ref)
        )
        await refresh_consents(self.session, touched)
        await drop_staged(self.session, touched)
        await drop_staged(self.session, moves)

    async def drop_profiles_without_customers(self, candidates: Sequence[int]) -> None:
        if not candidates:
            return
        p = PROFILES.c
        unused = ~exists().where(CUSTOMERS.c.profile_id == p.id)
        for start in range(0, len(candidates), 10_000):
            chunk = list(candidates[start : start + 10_000])
            await self.session.execute(delete(PROFILES).where(p.id.in_(chunk), unused))

    async def record_merges(self, rows: list[dict[str, object]]) -> None:
        if rows:
            await self.session.execute(insert(MERGES), rows)

    # -- look-ups --------------------------------------------------------------------------

    async def customers_by_identifier(self, id_type: IdType, value: str) -> list[Customer]:
        query = (
            select(Customer)
            .join(Identifier, col(Identifier.customer_ref) == col(Customer.id))
            .where(col(Identifier.id_type) == id_type, col(Identifier.id_value) == value)
            .order_by(col(Customer.id))
        )
        return list((await self.session.exec(query)).all())

    async def customer(self, customer_id: str) -> Customer | None:
        query = select(Customer).where(col(Customer.customer_id) == customer_id)
        return (await self.session.exec(query)).first()

    async def profile(self, profile_id: int) -> Profile | None:
        return await self.session.get(Profile, profile_id)

    async def profile_customers(self, profile_id: int) -> list[Customer]:
        query = (
            select(Customer)
            .where(col(Customer.profile_id) == profile_id)
            .order_by(col(Customer.id))
        )
        return list((await self.session.exec(query)).all())

    async def identifiers_of(self, customer_refs: Sequence[int]) -> list[Identifier]:
        query = select(Identifier).where(col(Identifier.customer_ref).in_(customer_refs))
        return list((await self.session.exec(query)).all())

    async def shared(self, id_type: IdType, value: str) -> SharedIdentifier | None:
        return await self.session.get(SharedIdentifier, (id_type.value, value))

    async def shared_among(self, identifiers: Sequence[Identifier]) -> list[SharedIdentifier]:
        values = sorted({i.id_value for i in identifiers})
        if not values:
            return []
        query = select(SharedIdentifier).where(col(SharedIdentifier.id_value).in_(values))
        return list((await self.session.exec(query)).all())

    async def merges_of(self, profile_id: int) -> list[ProfileMerge]:
        m = ProfileMerge
        query = (
            select(m)
            .where((col(m.into_profile_id) == profile_id) | (col(m.from_profile_id) == profile_id))
            .order_by(col(m.happened_at), col(m.id))
        )
        return list((await self.session.exec(query)).all())

    async def largest_profile(self) -> int | None:
        """The profile joining the most customer records (the demo's example key chain)."""
        c = CUSTOMERS.c
        query = (
            select(c.profile_id)
            .where(c.profile_id.is_not(None))
            .group_by(c.profile_id)
            .order_by(func.count().desc(), c.profile_id)
            .limit(1)
        )
        found = (await self.session.execute(query)).scalar_one_or_none()
        return int(found) if found is not None else None

    async def profile_count(self) -> int:
        return int(
            (await self.session.execute(select(func.count()).select_from(PROFILES))).scalar_one()
        )
