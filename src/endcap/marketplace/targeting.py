"""The audiences a campaign targets: which ones were asked for, each as the catalog offers
it (with the version a booking pins), the union's reach per channel, and its price.

Every audience must be bookable by itself (published, in the catalog, at or above the
minimum); every requested channel must be open in each of them. The union's reach is
computed as :mod:`endcap.marketplace.reach` explains, from catalog numbers only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.catalog import AudienceCatalog
from endcap.audiences.frozen_overlaps import PairCount
from endcap.audiences.models import Audience, AudienceVersion
from endcap.audiences.schemas import CatalogEntry
from endcap.consent.models import Purpose
from endcap.errors import InvalidRequestError, NotFoundError
from endcap.marketplace.reach import union_reach
from endcap.marketplace.repository import OverlapRepository
from endcap.privacy.channels import Channel, required_purpose
from endcap.privacy.difference import overlap_singles_out
from endcap.privacy.settings import PrivacyGateSettings
from endcap.privacy.sizes import round_count

if TYPE_CHECKING:
    from endcap.marketplace.quote_cache import QuoteCache


# Audiences read already, each with its current version, or None where not published.
Published = Mapping[uuid.UUID, tuple[Audience, AudienceVersion] | None]


def invalid(field: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, errors=[{"field": field, "message": message}])


@dataclass(frozen=True, slots=True)
class AudienceChoice:
    """The audience ids a request names, and whether it used the one-audience form."""

    ids: tuple[uuid.UUID, ...]
    single: bool = False

    def pointer(self, i: int) -> str:
        """Where a problem with the ``i``-th audience points, in the form the client sent."""
        return "/audience_id" if self.single else f"/audience_ids/{i}"


def choose_audiences(
    audience_ids: Sequence[uuid.UUID] | None, audience_id: uuid.UUID | None
) -> AudienceChoice | None:
    """The audiences asked for (None if neither field was sent).

    InvalidRequestError (422) for both fields at once, or an id listed twice (pointing
    at the repeat).
    """
    if audience_ids is not None and audience_id is not None:
        raise invalid(
            "/audience_id",
            "send audience_ids, or audience_id for a single audience, not both",
        )
    if audience_id is not None:
        return AudienceChoice((audience_id,), single=True)
    if audience_ids is None:
        return None
    first: dict[uuid.UUID, int] = {}
    for i, audience in enumerate(audience_ids):
        if audience in first:
            raise invalid(
                f"/audience_ids/{i}",
                f"audience {audience} is listed twice (first at /audience_ids/{first[audience]})",
            )
        first[audience] = i
    return AudienceChoice(tuple(audience_ids))


def required_audiences(
    audience_ids: Sequence[uuid.UUID] | None, audience_id: uuid.UUID | None
) -> AudienceChoice:
    """:func:`choose_audiences`, and a 422 at ``/audience_ids`` when neither was sent."""
    choice = choose_audiences(audience_ids, audience_id)
    if choice is None:
        raise invalid(
            "/audience_ids", "name the audiences to target (audience_ids, or audience_id for one)"
        )
    return choice


@dataclass(frozen=True, slots=True)
class Offer:
    """One audience as a booking buys it: its catalog entry and the version to pin."""

    entry: CatalogEntry
    version: int

    @property
    def audience_id(self) -> uuid.UUID:
        return self.entry.id

    @property
    def reach(self) -> dict[Channel, int]:
        return {c.channel: c.reach for c in self.entry.channels}


def premium_of(offers: Sequence[Offer]) -> Decimal:
    """The audience premium a campaign pays on top of the channel's CPM: the highest of
    its audiences' (an audience without a price adds none).

    Why the highest, not a reach-weighted mean: adding a broad, cheap audience must not
    dilute the price of a scarce, expensive one the brand also buys; and a shopper in
    several audiences is one impression, which is bought at the dearest of the audiences
    that hold them. The sum would charge twice for one person.
    """
    return max((o.entry.price.cpm for o in offers if o.entry.price), default=Decimal(0))


class AudienceTargeting:
    def __init__(self, session: AsyncSession, gate: PrivacyGateSettings) -> None:
        self.catalog = AudienceCatalog(session, gate)
        self.overlaps = OverlapRepository(session)
        self.gate = gate

    async def offers(
        self,
        choice: AudienceChoice,
        cache: QuoteCache | None = None,
        published: Published | None = None,
    ) -> list[Offer]:
        """Each audience as the catalog offers it now (or as ``cache`` remembers it, or from
        ``published``, read already); 422 at its pointer for one that is unknown, not
        published or below the minimum (the same answer for each)."""
        offers = []
        for i, audience_id in enumerate(choice.ids):
            if cache is not None and (kept := cache.offer(audience_id)) is not None:
                offers.append(kept)
                continue
            stamp = cache.stamp() if cache is not None else None
            try:
                if published is not None and audience_id in published:
                    entry, version = self.catalog.offer_of(audience_id, published[audience_id])
                else:
                    entry, version = await self.catalog.offer(audience_id)
            except NotFoundError as exc:
                raise invalid(
                    choice.pointer(i),
                    f"no bookable audience with id {audience_id}: it must be published "
                    "and at or above the minimum size",
                ) from exc
            offers.append(Offer(entry, version))
            if cache is not None:
                cache.remember_offer(stamp, offers[-1])
        return offers

    async def reach(
        self, offers: Sequence[Offer], channels: Sequence[Channel]
    ) -> dict[Channel, int]:
        """The union's consenting reach on each channel, in brand-facing form (reach.py).

        Each channel must be open (in the catalog) for every audience.
        """
        reach = [offer.reach for offer in offers]
        if len(offers) == 1:
            return {c: reach[0][c] for c in channels}
        versions = [(offer.audience_id, offer.version) for offer in offers]
        released: dict[Purpose, dict[frozenset[int], int | None]] = {}
        # Purposes in one order, whatever order the request lists its channels in: a first
        # count keeps its pairs (frozen_overlaps.py), and two requests keeping the same
        # pairs for two purposes in opposite orders would deadlock.
        for purpose in sorted({required_purpose(c) for c in channels}, key=lambda p: p.value):
            counts = await self.overlaps.consented_counts(versions, purpose)
            released[purpose] = self._released(counts, len(offers))
        union = {}
        for channel in channels:
            purpose = required_purpose(channel)
            shown = [r[channel] for r in reach]
            overlaps = {
                # Withheld: one audience is all but a few inside the other, which the
                # overlap endpoint's label already tells; count it as nested.
                pair: min(shown[i] for i in pair) if overlap is None else overlap
                for pair, overlap in released[purpose].items()
            }
            union[channel] = union_reach(shown, overlaps)
        return union

    def _released(
        self, counts: Mapping[tuple[int, int], PairCount], n: int
    ) -> dict[frozenset[int], int | None]:
        """Each pair's overlap as the catalog's overlap endpoint would show it: rounded,
        nothing (0) below the minimum, and None (withheld) when it would single out the
        few shoppers of one audience outside the other (privacy/difference.py). From the
        pair's counts as first counted (audiences/frozen_overlaps.py), never live ones."""
        k = self.gate.k_threshold
        released: dict[frozenset[int], int | None] = {}
        for i in range(n):
            for j in range(i + 1, n):
                pair = frozenset((i, j))
                count = counts[(i, j)]
                if overlap_singles_out(count.outside(0), count.outside(1), k=k):
                    released[pair] = None
                    continue
                shown = round_count(
                    count.both, to=self.gate.round_to, minimum=self.gate.min_audience
                )
                released[pair] = shown.value or 0
        return released
