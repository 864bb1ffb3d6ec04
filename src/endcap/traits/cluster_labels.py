"""The queries behind stable value-cluster labels: what each label means, and the labels
the profiles carry now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, case, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.traits.models import ProfileTraits, ValueCluster, ValueClusterLabel

LABELS = table_of(ValueClusterLabel)
CLUSTERS = table_of(ValueCluster)
TRAITS = table_of(ProfileTraits)


class ClusterLabelRepository:
    def __init__(self, session: AsyncSession, traits_table: Table = TRAITS) -> None:
        self.session = session
        # The table holding this refresh's traits rows (the labels now); remember_labels
        # reads the live one (the labels before).
        self.traits_table = traits_table

    async def live(self) -> list[ValueClusterLabel]:
        """The labels the last clustering issued or kept, in label order."""
        query = (
            select(ValueClusterLabel).where(LABELS.c.retired_at.is_(None)).order_by(LABELS.c.label)
        )
        return list((await self.session.execute(query)).scalars().all())

    async def highest_issued(self) -> int | None:
        """The highest label ever issued, retired or not (None: none yet)."""
        found = (await self.session.execute(select(func.max(LABELS.c.label)))).scalar_one()
        return None if found is None else int(found)

    async def highest_in_use(self) -> int | None:
        """The highest label issued or carried by a profile: before the first refresh after
        migration 0017 the profiles carry labels that no row records yet."""
        issued = await self.highest_issued()
        carried = (await self.session.execute(select(func.max(TRAITS.c.value_cluster)))).scalar()
        found = [int(label) for label in (issued, carried) if label is not None]
        return max(found, default=None)

    async def last_silhouette(self) -> float | None:
        query = select(CLUSTERS.c.silhouette).limit(1)
        found = (await self.session.execute(query)).scalar_one_or_none()
        return None if found is None else float(found)

    async def remember_labels(self) -> Table:
        """The profiles' labels now, in a temporary table: a full refresh rewrites every
        traits row (labels gone) before the clusters step compares them."""
        before = Table(
            "traits_labels_before",  # temporary: this session's own, dropped by the caller
            MetaData(),
            Column("profile_id", BigInteger, primary_key=True),
            Column("value_cluster", Integer, nullable=False),
            prefixes=["TEMPORARY"],
        )
        connection = await self.session.connection()
        await connection.run_sync(before.create)
        c = TRAITS.c
        await self.session.execute(
            before.insert().from_select(
                ["profile_id", "value_cluster"],
                select(c.profile_id, c.value_cluster).where(c.value_cluster.is_not(None)),
            )
        )
        return before

    async def forget_labels(self, before: Table) -> None:
        connection = await self.session.connection()
        await connection.run_sync(before.drop)

    async def labels_before(self, before: Table) -> list[Any]:
        """Per profile with traits, in profile id order (as the clustering inputs): its
        label in ``before`` (None: it had none)."""
        now, b = self.traits_table, before.c
        c = now.c
        query = (
            select(c.profile_id, b.value_cluster)
            .select_from(now.outerjoin(before, b.profile_id == c.profile_id))
            .order_by(c.profile_id)
        )
        return list((await self.session.execute(query)).all())

    async def kept_share(self, before: Table) -> float | None:
        """Of the profiles labelled in ``before`` that still have traits, the share whose
        label is the same now (None: nobody was labelled)."""
        now, b = self.traits_table, before.c
        c = now.c
        query = select(
            func.count(), func.sum(case((c.value_cluster == b.value_cluster, 1), else_=0))
        ).select_from(now.join(before, b.profile_id == c.profile_id))
        total, same = (await self.session.execute(query)).one()
        return None if not total else int(same or 0) / int(total)

    async def save(self, labels: list[ValueClusterLabel], now: datetime) -> None:
        """Store ``labels`` (issued or kept at ``now``) and retire every other live label."""
        for label in labels:
            await self.session.merge(label)
        await self.session.execute(
            update(LABELS)
            .where(
                LABELS.c.retired_at.is_(None),
                LABELS.c.label.not_in([label.label for label in labels]),
            )
            .values(retired_at=now)
        )
        await self.session.flush()
