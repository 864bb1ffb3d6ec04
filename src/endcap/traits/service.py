"""Refreshing traits: purchases → per-profile traits and spend, then customer value
and value clusters. Runs as a job; the whole refresh is one transaction, so
audiences never see half-computed traits.

A refresh is *full* (every profile from every purchase) or *incremental*: only
the profiles whose traits can have changed since the last refresh are
recomputed. Those are the profiles a load or a merge marked stale, and, when
the newest purchase (``as_of``) moved on, the profiles with a purchase that
just left a 4-, 13- or 52-week window. Every other profile's purchases and
windows are unchanged, so its traits and spend rows are already right. The
value models and clusters are refitted on every profile either way: P(alive)
moves with time for everyone, and they read only ``profile_traits``, which is
cheap; cluster labels keep their meaning (traits/clusters.py). ``auto`` (the
default) is incremental when a previous refresh exists and at most
``MAX_INCREMENTAL_SHARE`` of the profiles need recomputing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import BigInteger, Column, MetaData, Table, func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import BATCH_STATEMENT_MEMORY_MB
from endcap.db.bulk import batch_memory, is_postgres, no_jit
from endcap.db.types import storable_id, utcnow
from endcap.errors import NotFoundError
from endcap.traits.cluster_labels import ClusterLabelRepository
from endcap.traits.models import ProfileTraits, TraitRefresh
from endcap.traits.repository import TraitsRepository
from endcap.traits.sample import SampleRepository, share_for
from endcap.traits.schemas import ProfileTraitsPublic, TraitsRefreshReport
from endcap.traits.staleness import StalenessRepository, lock_traits
from endcap.traits.value import ValueScores, assign_clusters, score_value

Progress = Callable[[int, int | None], None]
STEPS = 4
DEFAULT_SAMPLE_PROFILES: Final = 50_000  # ENDCAP_AUDIENCE_ESTIMATE_SAMPLE_PROFILES
# Past this share, recomputing "just" the changed profiles costs about a full rebuild.
MAX_INCREMENTAL_SHARE: Final = 0.3
UNCHANGED: Final[dict[str, Any]] = {
    "unchanged": "no purchases changed and as_of did not move: kept as they were"
}


class RefreshMode(StrEnum):
    AUTO = "auto"
    FULL = "full"
    INCREMENTAL = "incremental"


class TraitsService:
    def __init__(
        self,
        session: AsyncSession,
        work_mem_mb: int = 256,
        sample_profiles: int = DEFAULT_SAMPLE_PROFILES,
        statement_memory_mb: int = BATCH_STATEMENT_MEMORY_MB,
    ) -> None:
        self.session = session
        self.traits = TraitsRepository(session, statement_memory_mb=statement_memory_mb)
        self.stale = StalenessRepository(session)
        self.labels = ClusterLabelRepository(session)
        self.work_mem_mb = work_mem_mb
        self.sample_profiles = sample_profiles
        self._unchanged = False

    async def refresh(
        self,
        *,
        as_of: datetime | None = None,
        mode: RefreshMode = RefreshMode.AUTO,
        progress: Progress | None = None,
        k_candidates: tuple[int, ...] | None = None,
    ) -> TraitsRefreshReport:
        """Recompute traits as of ``as_of`` (default: the latest purchase).

        Value clusters keep their k and labels (traits/clusters.py); ``k_candidates``
        asks for k to be chosen again among them (e.g. ``K_CANDIDATES``), even when no
        purchase changed."""
        tick = progress or (lambda _done, _total: None)
        seconds: dict[str, float] = {}
        await lock_traits(self.session)  # loads that marked profiles are committed, or wait
        started_at = utcnow()
        await batch_memory(self.session, self.work_mem_mb)
        await no_jit(self.session)
        as_of = as_of or await self.traits.latest_purchase()
        if as_of is None:
            return TraitsRefreshReport(
                as_of=None,
                mode=RefreshMode.FULL,
                profiles=0,
                recomputed=0,
                spend_rows={},
                value_model=None,
                clusters=None,
                seconds={},
            )
        started = time.perf_counter()
        only = await self._changed_profiles(as_of, mode)
        chosen = RefreshMode.FULL if only is None else RefreshMode.INCREMENTAL
        unchanged = only is not None and self._unchanged
        # Remembered before the traits step rewrites the rows: the clusters step reports
        # how many shoppers kept their label.
        clustering = not unchanged or k_candidates is not None
        before = await self.labels.remember_labels() if clustering else None
        seconds["plan"] = _lap(started)
        started = time.perf_counter()
        recomputed = await self.traits.rebuild_profile_traits(as_of, only)
        seconds["traits"] = _lap(started)
        tick(1, STEPS)
        started = time.perf_counter()
        spend_rows = await self.traits.rebuild_spend(as_of, only)
        seconds["spend"] = _lap(started)
        tick(2, STEPS)
        started = time.perf_counter()
        scores = ValueScores(UNCHANGED)
        if not unchanged:
            scores = await score_value(self.session, as_of, self.traits.traits_table)
        seconds["value"] = _lap(started)
        tick(3, STEPS)
        started = time.perf_counter()
        clusters: dict[str, Any] | None = UNCHANGED
        if before is not None:
            clusters = await assign_clusters(
                self.session,
                scores,
                self.traits.spend,
                k_candidates=k_candidates,
                before=before,
                traits_table=self.traits.traits_table,
            )
            await self.labels.forget_labels(before)
        if only is not None and not unchanged and scores.columns is None:
            await self.traits.stamp_as_of(as_of)  # no value scores rewrote the rows
        seconds["clusters"] = _lap(started)
        refresh = await self._publish(
            TraitRefresh(as_of=as_of, mode=chosen.value, profiles_recomputed=recomputed),
            only,
            seconds,
        )
        tick(4, STEPS)
        if only is not None:
            await _drop(self.session, only)
        await self.stale.clear(marked_before=started_at)
        await self.traits.record_refresh(refresh)
        return TraitsRefreshReport(
            as_of=as_of,
            mode=chosen,
            profiles=refresh.profiles or 0,
            recomputed=recomputed,
            spend_rows=spend_rows,
            value_model=scores.report,
            clusters=clusters,
            seconds=seconds,
        )

    async def _publish(
        self, refresh: TraitRefresh, only: Table | None, seconds: dict[str, float]
    ) -> TraitRefresh:
        """Swap in a full refresh's fresh spend table, renew the estimate sample, then swap
        in its fresh traits table, last: that swap locks ``profiles`` until the commit
        (traits_table.py). ``seconds`` gets the sample's and both swaps' times."""
        started = time.perf_counter()
        await self.traits.publish_spend()
        await self.traits.drop_erased()  # before the sample: its traits have a foreign key
        publish = _lap(started)
        started = time.perf_counter()
        refresh = await self._sample(refresh, only)
        seconds["sample"] = _lap(started)
        started = time.perf_counter()
        await self.traits.publish_traits()
        seconds["publish"] = round(publish + _lap(started), 3)
        return refresh

    async def _sample(self, refresh: TraitRefresh, only: Table | None) -> TraitRefresh:
        """Renew the estimate sample; ``refresh`` records its share and sizes.

        Only an incremental refresh that keeps the last refresh's share can replace just
        the changed profiles' sampled spend; any other renews the whole sample.
        """
        universe = await self.traits.profile_count()
        share = share_for(universe, self.sample_profiles)
        last = await self.traits.last_refresh()
        same_set = only is not None and last is not None and last.sample_share == share
        sampled = await SampleRepository(self.session).rebuild(
            share, only=only if same_set else None, traits=self.traits.traits_table
        )
        refresh.profiles = universe
        refresh.sample_share = share
        refresh.sample_profiles = sampled if share is not None else None
        return refresh

    async def _changed_profiles(self, as_of: datetime, mode: RefreshMode) -> Table | None:
        """The profiles to recompute, in a temporary table; None for a full refresh."""
        if mode is RefreshMode.FULL:
            return None
        last = await self.traits.last_refresh()
        if last is None or as_of < last.as_of:
            return None  # nothing to build on, or purchases were removed: rebuild
        changed = Table(
            "traits_changed_profiles",  # temporary: this session's own, dropped at the end
            MetaData(),
            Column("profile_id", BigInteger, primary_key=True),
            prefixes=["TEMPORARY"],
        )
        connection = await self.session.connection()
        await connection.run_sync(changed.create)
        await self.stale.into(changed)
        if as_of > last.as_of:
            leavers = self.traits.window_leavers(last.as_of, as_of).subquery()
            await self.session.execute(
                changed.insert().from_select(
                    ["profile_id"],
                    leavers.select().where(leavers.c.profile_id.not_in(self.stale.marked())),
                )
            )
        if is_postgres(self.session):
            # A temporary table is never auto-analysed; a few thousand ids planned as
            # "unknown" turn the index look-ups of their purchases into full scans.
            await self.session.execute(text("ANALYZE traits_changed_profiles"))
        count = await _count(self.session, changed)
        # Same purchases, same as_of: the value models and clusters would come out the same.
        self._unchanged = count == 0 and as_of == last.as_of
        if mode is RefreshMode.AUTO and count > MAX_INCREMENTAL_SHARE * max(
            await self.traits.profile_count(), 1
        ):
            await _drop(self.session, changed)
            return None
        return changed

    async def of_profile(self, profile_id: int) -> ProfileTraitsPublic:
        found = None
        if storable_id(profile_id):
            found = await self.session.get(ProfileTraits, profile_id)
        if found is None:
            raise NotFoundError(
                f"no traits for profile {profile_id} (no purchases, or not refreshed yet)"
            )
        return ProfileTraitsPublic.model_validate(found, from_attributes=True)


async def _count(session: AsyncSession, table: Table) -> int:
    return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def _drop(session: AsyncSession, table: Table) -> None:
    connection = await session.connection()
    await connection.run_sync(table.drop)


def _lap(started: float) -> float:
    return round(time.perf_counter() - started, 3)
