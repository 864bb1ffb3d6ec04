"""Sizing a rule before it is saved: validate, resolve, check, compile, count.

:func:`estimate_rule` sizes it on the estimate sample when the last refresh left one (see
traits/sample.py for why), with a 95% interval, unless asked for the exact count;
:func:`estimate_size` always counts every profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from scipy.stats import binomtest
from sqlalchemy import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.compile import compile_rule, uses_days, uses_share
from endcap.audiences.known_clusters import ensure_known_clusters
from endcap.audiences.references import ensure_rule_not_sensitive, resolve_targets
from endcap.audiences.repository import AudienceRepository
from endcap.audiences.rule_parser import parse_rule
from endcap.audiences.sources import EVERYONE, SAMPLE, Sources
from endcap.db.types import utcnow
from endcap.privacy.sensitive import SensitiveCategories
from endcap.traits.repository import TraitsRepository
from endcap.traits.sample import SLOTS, Sample, SampleRepository

CONFIDENCE: Final = 0.95
# A share of category requirements sums the spend rows of the seller and of its (or the
# other) categories for each sampled profile: at 1M profiles (tests/perf/bench_estimate.py,
# 62,500 sampled) a rule with one took 140-200 ms at p95 where others took 50-70, in the
# same run. Such a rule is counted on half of the sample's slots, a uniform sample of its
# own, so its interval is about 1.4 (the square root of 2) times as wide; an exact count
# is one request away.
SHARE_SLOTS: Final = SLOTS // 2


@dataclass(frozen=True)
class Estimate:
    """A rule's size: exact, or scaled up from the sample with a ``CONFIDENCE`` interval."""

    size: int
    low: int
    high: int
    exact: bool
    sampled_profiles: int | None = None  # the sample it was counted on


async def estimate_rule(
    session: AsyncSession,
    rule: object,
    *,
    sensitive: SensitiveCategories,
    pointer: str = "",
    exact: bool = False,
) -> Estimate:
    """How many profiles ``rule`` selects, on the sample unless ``exact`` or there is none.

    The sample is a simple random sample of the profiles (a hash of the id), so the
    share of it the rule selects estimates the share of everyone; the interval is
    Wilson's for that share, scaled to the profiles counted at the same refresh (it
    leaves out the finite-population correction, so it is a little wide). A rule with a
    share of category requirements is counted on ``SHARE_SLOTS`` of the sample's slots.
    Arguments and errors as :func:`members_query`.
    """
    sample = None if exact else await _current_sample(session)
    counted = 0
    if sample is not None:
        slots = SHARE_SLOTS if uses_share(parse_rule(rule, pointer=pointer)) else SLOTS
        hits, counted = await _count_on_sample(session, rule, sensitive, pointer, slots)
        if not counted and slots < SLOTS:  # a sample too small to halve: read it whole
            hits, counted = await _count_on_sample(session, rule, sensitive, pointer, SLOTS)
    if sample is None or not counted:  # no sample, or a refresh emptied it since
        size = await estimate_size(session, rule, sensitive=sensitive, pointer=pointer)
        return Estimate(size=size, low=size, high=size, exact=True)
    interval = binomtest(hits, counted).proportion_ci(CONFIDENCE, method="wilson")
    return Estimate(
        size=round(hits / counted * sample.universe),
        low=math.floor(interval.low * sample.universe),
        high=math.ceil(interval.high * sample.universe),
        exact=False,
        sampled_profiles=counted,
    )


async def _count_on_sample(
    session: AsyncSession, rule: object, sensitive: SensitiveCategories, pointer: str, slots: int
) -> tuple[int, int]:
    """The rule's members in the sample's first ``slots`` slots, and the profiles there."""
    members = await members_query(
        session, rule, sensitive=sensitive, pointer=pointer, sources=SAMPLE.within(slots)
    )
    return await SampleRepository(session).count(members, slots)


async def _current_sample(session: AsyncSession) -> Sample | None:
    last = await TraitsRepository(session).last_refresh()
    if last is None or last.sample_share is None or not last.sample_profiles or not last.profiles:
        return None
    return Sample(share=last.sample_share, profiles=last.sample_profiles, universe=last.profiles)


async def members_query(
    session: AsyncSession,
    rule: object,
    *,
    sensitive: SensitiveCategories,
    pointer: str = "",
    as_of: datetime | None = None,
    sources: Sources = EVERYONE,
    requested: bool = True,
) -> Select[Any]:
    """The select of the ids of the profiles ``rule`` (decoded JSON) selects.

    ``pointer`` is where the rule sits in the request (e.g. ``/rule``), for errors.
    ``as_of`` is what ``recency_days`` and ``tenure_days`` count up to; by default
    the newest traits' ``as_of``, read only when the rule counts days. ``requested``:
    the rule comes with a request (not a refresh of a saved one), so cluster labels are
    checked too (known_clusters.py).

    Raises :class:`~endcap.errors.InvalidRequestError` (422) for a malformed rule, an
    unknown catalog name or a value-cluster label never issued, and
    :class:`~endcap.privacy.sensitive.SensitiveCategoryError` (422) for a rule on a
    sensitive department or category; each error points at the offending part of the
    rule.
    """
    parsed = parse_rule(rule, pointer=pointer)
    repository = AudienceRepository(session)
    targets = await resolve_targets(repository, parsed)
    ensure_rule_not_sensitive(targets, sensitive)
    if requested:
        await ensure_known_clusters(session, parsed)
    if as_of is None and uses_days(parsed):
        # Without traits the universe is empty, and any moment gives the same nothing.
        as_of = await repository.latest_as_of() or utcnow()
    spend_categories = None
    if sources.category_spend and uses_share(parsed):
        spend_categories = await repository.spend_categories(sources.spend)
    return compile_rule(
        parsed, targets, as_of=as_of, sources=sources, spend_categories=spend_categories
    )


async def estimate_size(
    session: AsyncSession,
    rule: object,
    *,
    sensitive: SensitiveCategories,
    pointer: str = "",
    as_of: datetime | None = None,
) -> int:
    """How many profiles ``rule`` selects now: exact, for the retailer's own screens.

    Brand-facing sizes must go through :func:`endcap.privacy.sizes.round_count`
    first. Arguments and errors as :func:`members_query`.
    """
    members = await members_query(session, rule, sensitive=sensitive, pointer=pointer, as_of=as_of)
    return await AudienceRepository(session).count(members)
