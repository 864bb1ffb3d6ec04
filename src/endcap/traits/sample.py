"""The estimate sample: the traits and spend rows of a fixed, hashed share of the profiles.

Sizing a rule exactly reads every profile's traits and every buyer's spend row for the
rule's keys: at 1M profiles on two cores that is 0.15 to 0.5 s, too slow to size a rule
as it is typed. The same rule over a uniform sample of about
``ENDCAP_AUDIENCE_ESTIMATE_SAMPLE_PROFILES`` profiles (50,000 by default) costs a
twentieth of the rows, and its count scaled up is an estimate with a known error
(audiences/estimate.py gives the interval). Exact sizes still come from an explicit
``exact`` estimate and from every audience refresh; nothing brand-facing and no privacy
check reads the sample.

A profile is in the sample when the top bits of a multiplicative (Knuth) hash of its id
are zero, so the share is a power of two, 1/2**k. The hash spreads consecutive ids evenly
over the range, so old and new profiles are sampled alike. Powers of two keep the
sample the same set between refreshes for as long as k stays: an incremental refresh
then replaces only the changed profiles' rows. The profiles' traits are copied whole at
every refresh, because the value step rewrites everyone's P(alive), value and cluster,
each with the sum of its category rows just written (its spend in every category, which
a share of category requirements for a seller in most categories reads instead of
those rows: audiences/compile.py).

Each sampled profile also has a slot: the sample's hash range cut into ``SLOTS`` equal
parts, numbered from 0. The first m slots are themselves a uniform sample of m/SLOTS of
the sample (the same hash, a smaller threshold), and the spend rows' key puts the slot
before the id, so a statement reading only them reads that share of the rows. An
estimate uses this for rules that read many rows per profile (audiences/estimate.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Numeric,
    Select,
    Table,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.db.bulk import is_postgres
from endcap.traits.models import (
    CATEGORY_SPEND,
    SPEND_SAMPLE,
    TRAITS_SAMPLE,
    ProfileSpend,
    ProfileTraits,
)

TRAITS = table_of(ProfileTraits)
SPEND = table_of(ProfileSpend)
HASH_MODULUS: Final = 1 << 32  # the hash is 32 bits
# Knuth's multiplicative constant (2**32 / golden ratio, odd: a bijection modulo 2**32).
# Ids are first taken modulo 2**31 so that the product fits a signed 64-bit integer.
MULTIPLIER: Final = 2654435761
_ID_MODULUS: Final = 1 << 31
# Below twice the target a sample saves too little to be worth an estimate's error.
MIN_FACTOR: Final = 2
# Eight: an estimate can read a half, or a nearer share of the target, without a rebuild.
SLOTS: Final = 8


@dataclass(frozen=True)
class Sample:
    """A sample as a refresh left it: its share, and the profile counts it scales by."""

    share: float
    profiles: int  # in the sample
    universe: int  # profiles with traits at the same refresh

    @property
    def threshold(self) -> int:
        return threshold(self.share)


def share_for(universe: int, target: int) -> float | None:
    """The largest power-of-two share leaving at least ``target`` profiles; None: no sample."""
    if target <= 0 or universe < MIN_FACTOR * target:
        return None
    return float(2.0 ** -math.floor(math.log2(universe / target)))


def threshold(share: float) -> int:
    return int(share * HASH_MODULUS)


def hashed(profile_id: int) -> int:
    """The hash that decides sampling, as the SQL of :func:`in_sample` computes it."""
    return (profile_id % _ID_MODULUS) * MULTIPLIER % HASH_MODULUS


def is_sampled(profile_id: int, share: float) -> bool:
    return hashed(profile_id) < threshold(share)


def slot(profile_id: int, share: float) -> int:
    """The slot of a sampled profile, as the SQL of :func:`slot_of` computes it."""
    return hashed(profile_id) * SLOTS // threshold(share)


def _big(value: int) -> ColumnElement[int]:
    return literal(value, BigInteger)


def _hashed(profile_id: ColumnElement[Any]) -> ColumnElement[int]:
    """SQL for :func:`hashed` (the same integer arithmetic on PostgreSQL and SQLite).

    Every operand is a 64-bit integer: 32-bit arithmetic would overflow on the product.
    """
    wrapped = cast(profile_id, BigInteger) % _big(_ID_MODULUS)
    return wrapped * _big(MULTIPLIER) % _big(HASH_MODULUS)


def in_sample(profile_id: ColumnElement[Any], share: float) -> ColumnElement[bool]:
    """SQL for :func:`is_sampled`."""
    return _hashed(profile_id) < _big(threshold(share))


def slot_of(profile_id: ColumnElement[Any], share: float) -> ColumnElement[int]:
    """SQL for :func:`slot`: both databases divide integers to the integer below (the
    operands are not negative)."""
    return _hashed(profile_id) * _big(SLOTS) // _big(threshold(share))


class SampleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rebuild(
        self,
        share: float | None,
        *,
        only: Table | None = None,
        spend: Table = SPEND,
        traits: Table = TRAITS,
    ) -> int:
        """Bring the sample in step with the traits and spend just refreshed; its size.

        ``only``: the profiles an incremental refresh recomputed, when the share is the
        one the sample already has (only their spend rows changed). ``spend`` and
        ``traits`` are the tables the refresh wrote (a full refresh's build tables before
        their swaps).
        """
        await self._clear(TRAITS_SAMPLE)
        if share is None:
            await self._clear(SPEND_SAMPLE)
            return 0
        await self._copy_spend(share, only, spend)
        copied = await self.session.execute(self._copy_traits(share, traits))
        if is_postgres(self.session):
            await self.session.execute(text("ANALYZE profile_traits_sample, profile_spend_sample"))
        return int(copied.rowcount or 0)  # type: ignore[attr-defined]

    @staticmethod
    def _copy_traits(share: float, traits: Table) -> Insert:
        """The sampled profiles' traits (from ``traits``), each with its spend in every
        category (the sums of its category rows just copied; 0 without any)."""
        s = SPEND_SAMPLE.c
        categories = (
            select(s.profile_id, *(func.sum(s[window]).label(window) for window in CATEGORY_SPEND))
            .where(s.level == "category")
            .group_by(s.profile_id)
            .subquery()
        )
        zero = literal(Decimal(0), Numeric(14, 2))
        rows = (
            select(
                *traits.c,
                *(func.coalesce(categories.c[window], zero) for window in CATEGORY_SPEND),
                slot_of(traits.c.profile_id, share),
            )
            .select_from(
                traits.outerjoin(categories, categories.c.profile_id == traits.c.profile_id)
            )
            .where(in_sample(traits.c.profile_id, share))
            # In slot order: the first slots' rows share pages (see the slot's index).
            .order_by(slot_of(traits.c.profile_id, share), traits.c.profile_id)
        )
        columns = [*traits.c.keys(), *CATEGORY_SPEND.values(), "slot"]
        return insert(TRAITS_SAMPLE).from_select(columns, rows)

    async def _copy_spend(self, share: float, only: Table | None, spend: Table) -> None:
        s = spend.c
        copied = [s[c.name] for c in SPEND_SAMPLE.c if c.name != "slot"]
        slotted = slot_of(s.profile_id, share)
        rows = select(*copied, slotted).where(in_sample(s.profile_id, share))
        if only is None:
            await self._clear(SPEND_SAMPLE)
        else:
            changed = select(only.c.profile_id)
            await self.session.execute(
                delete(SPEND_SAMPLE).where(SPEND_SAMPLE.c.profile_id.in_(changed))
            )
            rows = rows.where(s.profile_id.in_(changed))
        # In key order: the primary key then grows at its right edge, page after page.
        rows = rows.order_by(s.level, s.key, slotted, s.profile_id)
        columns = [c.name for c in copied] + ["slot"]
        await self.session.execute(insert(SPEND_SAMPLE).from_select(columns, rows))

    async def _clear(self, table: Table) -> None:
        if is_postgres(self.session):
            # TRUNCATE, not DELETE: no dead rows to vacuum. Its lock lasts from here to the
            # refresh's commit, moments later; estimates wait for it, as for the spend swap.
            # The name is one of this module's two tables, quoted by the dialect: no input.
            name = self.session.bind.dialect.identifier_preparer.quote(table.name)
            await self.session.execute(text(f"TRUNCATE {name}"))
        else:
            await self.session.execute(delete(table))

    async def count(self, members: Select[Any], slots: int = SLOTS) -> tuple[int, int]:
        """How many rows ``members`` (a select of sampled ids, each once) returns, and how
        many profiles the sample holds in its first ``slots`` slots: one statement, so
        both are counted on the same sample (a refresh may swap it between two)."""
        profiles = select(func.count()).select_from(TRAITS_SAMPLE)
        if slots < SLOTS:
            profiles = profiles.where(TRAITS_SAMPLE.c.slot < slots)
        hits = select(func.count()).select_from(members.subquery())
        query = select(hits.scalar_subquery(), profiles.scalar_subquery())
        found, counted = (await self.session.execute(query)).one()
        return int(found), int(counted)
