"""The brand-facing audience catalog: published audiences with rounded reach per channel,
their kind (rule, propensity or lookalike) and their price.

Brands never see members, rules or exact counts. A channel is listed only when
its consented reach passes the minimum; overlaps between two audiences are
rounded, hidden below the minimum, and withheld when one audience has only a few
shoppers (fewer than k) outside the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.frozen_overlaps import ANY_CHANNEL, FrozenOverlaps, PairCount, VersionKey
from endcap.audiences.membership import MembershipRepository
from endcap.audiences.models import Audience, AudienceKind, AudienceVersion
from endcap.audiences.schemas import CatalogEntry, ChannelReach, Overlap, Price
from endcap.audiences.shown_consent import ANY_PURPOSE
from endcap.errors import NotFoundError
from endcap.pagination import Page, PageRequest, paged_in_memory
from endcap.privacy.channels import Channel
from endcap.privacy.difference import overlap_singles_out
from endcap.privacy.settings import PrivacyGateSettings
from endcap.privacy.sizes import SizeBand, round_count, size_band

# The label of an overlap withheld by the difference rule (no number, not even a band).
WITHHELD = "withheld"


class AudienceCatalog:
    def __init__(self, session: AsyncSession, gate: PrivacyGateSettings) -> None:
        self.audiences = MembershipRepository(session)
        self.frozen = FrozenOverlaps(session)
        self.gate = gate

    async def entries(
        self,
        page: PageRequest,
        *,
        channel: Channel | None = None,
        band: SizeBand | None = None,
        category: str | None = None,
    ) -> Page[CatalogEntry]:
        """Published audiences, optionally only those reaching ``channel``, in size ``band``,
        or about ``category`` (a category its rule, target or features name; any case); in
        the order they were created, a page at a time."""
        entries: list[tuple[Audience, CatalogEntry]] = []
        for audience, version in await self.audiences.published_versions():
            entry = self._entry(audience, version)
            if entry is None:
                continue
            if channel is not None and channel not in {c.channel for c in entry.channels}:
                continue
            if band is not None and entry.size_band != band:
                continue
            if category is not None and category.strip().casefold() not in {
                c.casefold() for c in entry.categories
            }:
                continue
            entries.append((audience, entry))
        kept, cursor = paged_in_memory(entries, lambda pair: (pair[0].created_at, pair[0].id), page)
        return Page[CatalogEntry](items=[entry for _, entry in kept], next_cursor=cursor)

    async def entry(self, audience_id: uuid.UUID) -> CatalogEntry:
        """NotFoundError for anything not in the catalog, exactly as for an unknown id."""
        _, entry = await self._listed(audience_id)
        return entry

    async def offer(self, audience_id: uuid.UUID) -> tuple[CatalogEntry, int]:
        """The entry a booking buys and the membership version behind it (the one to pin).

        NotFoundError, exactly as :meth:`entry`, for anything a brand cannot book.
        """
        return self.offer_of(audience_id, await self._published(audience_id))

    def offer_of(
        self, audience_id: uuid.UUID, published: tuple[Audience, AudienceVersion] | None
    ) -> tuple[CatalogEntry, int]:
        """:meth:`offer` from an audience and its current version read already (a booking
        reads them with its campaign); ``published`` None: the audience is not published."""
        entry = self._entry(*published) if published is not None else None
        if entry is None or published is None:
            raise NotFoundError(f"no audience with id {audience_id}")
        return entry, published[1].version

    async def overlap(self, first: uuid.UUID, second: uuid.UUID) -> Overlap:
        """Shoppers in both, rounded; withheld when it would show a few shoppers in one
        and not the other (privacy/difference.py). NotFoundError, as :meth:`entry`, unless
        both are in the catalog: a published audience that no channel reaches the minimum
        of is hidden there, so its overlaps are too."""
        (a, _), (b, _) = await self._listed(first), await self._listed(second)
        versions = [(a.audience_id, a.version), (b.audience_id, b.version)]
        if versions[0] == versions[1]:
            n = a.size if a.consented_size is None else a.consented_size
            count = PairCount(n, n, n)
        else:
            # As first counted: live members would move with each erasure between refreshes.
            # Among members who consented to some channel at their refresh, as the
            # catalog's sizes count them (shown_consent.py).
            counted = await self.frozen.counted(
                versions, ANY_CHANNEL, lambda: self._count(versions)
            )
            count = counted[(0, 1)]
        if overlap_singles_out(count.outside(0), count.outside(1), k=self.gate.k_threshold):
            return Overlap(overlap=None, label=WITHHELD)
        shown = round_count(count.both, to=self.gate.round_to, minimum=self.gate.min_audience)
        return Overlap(overlap=shown.value, label=shown.label)

    async def _count(self, versions: list[VersionKey]) -> dict[tuple[int, int], PairCount]:
        return await self.audiences.shown_overlaps(versions, ANY_PURPOSE)

    async def _listed(self, audience_id: uuid.UUID) -> tuple[AudienceVersion, CatalogEntry]:
        """The current version and the catalog entry of an audience brands can see."""
        audience, version = await self._published(audience_id)
        entry = self._entry(audience, version)
        if entry is None:
            raise NotFoundError(f"no audience with id {audience_id}")
        return version, entry

    async def _published(self, audience_id: uuid.UUID) -> tuple[Audience, AudienceVersion]:
        found = await self.audiences.published_versions(audience_id)
        if not found:
            raise NotFoundError(f"no audience with id {audience_id}")
        return found[0]

    def _entry(self, audience: Audience, version: AudienceVersion) -> CatalogEntry | None:
        return catalog_entry(audience, version, self.gate)


def catalog_entry(
    audience: Audience, version: AudienceVersion, gate: PrivacyGateSettings
) -> CatalogEntry | None:
    """What brands see of a published audience at ``version``; None when no channel reaches
    the minimum (the audience is then hidden from them, though still published)."""
    # Only members who consented to some channel count for a brand (models.AudienceVersion).
    shown_size = version.size if version.consented_size is None else version.consented_size
    size = round_count(shown_size, to=gate.round_to, minimum=gate.min_audience)
    channels = [
        ChannelReach(channel=Channel(name), reach=shown.value)
        for name, reach in sorted(version.reach.items())
        if (shown := round_count(reach, to=gate.round_to, minimum=gate.min_audience)).value
        is not None
    ]
    band = size_band(shown_size, gate.round_to, minimum=gate.min_audience)
    if size.value is None or band is None or not channels:
        return None
    return CatalogEntry(
        id=audience.id,
        name=audience.name,
        description=audience.description,
        kind=AudienceKind(audience.kind),
        price=Price(cpm=audience.cpm, currency=audience.currency) if audience.cpm else None,
        size=size.value,
        size_band=band.value,
        channels=channels,
        categories=sorted(set(named_categories(audience.rule, audience.spec))),
    )


def named_categories(*documents: Any) -> Iterator[str]:
    """Every category a rule or model spec names as a purchase target or feature: what the
    audience is about, as a brand would browse for it."""
    for document in documents:
        if isinstance(document, dict):
            if document.get("level") == "category" and isinstance(document.get("name"), str):
                yield document["name"]
            for value in document.values():
                yield from named_categories(value)
        elif isinstance(document, list):
            for value in document:
                yield from named_categories(value)
