"""The difference check of an audience version about to be shown to brands.

The rule is privacy/difference.py's: no two member sets a brand can see may differ by
1 to k-1 profiles. Here is what it is applied to:

- **Every released version** (released_at), of every audience, whatever it is now:
  what a brand saw stays known to it after that audience is deleted or changed, so
  "A minus one shopper" stays refused then too.
- **Each channel's reach as well as the whole set.** The catalog shows a rounded
  reach per channel: the members holding that channel's consent purpose. Two
  audiences 61 shoppers apart whose e-mail-consented members differ by one would
  single that one out through their e-mail reach; so per purpose, the consented
  members of the release are compared with the consented members of each released
  version, where brands see both reaches (one below the minimum is not shown).
  Consent is read as it is now on both sides (a version's consent at its release is
  not kept): a withdrawal since then moves a shopper out of both.
- **The audience's own earlier versions only across a change of definition** (its
  rule or model request, service._definition). A steady audience's members drift by
  a few shoppers between refreshes, and refusing that drift would stop every refresh;
  what brands read of one audience over time is rounded (privacy/sizes.py). But a
  rule edited to "the same minus one postal code" is a new audience under an old
  name, and is compared like one. Versions refreshed before migration 0027 have no
  recorded definition and count as the current one.

Candidates are pre-filtered by size (sets whose sizes differ by k or more cannot be
near), from the size and reach a version was released with, which stay as brands were
shown them. Its members are compared as they are now, erased shoppers gone, so the
filter widens by the customer records erased since its release, and a day before it
(an upper bound of the members lost; erasures are few, so it stays tight): "A as
erasures left it, minus one" is refused however many of A's members were erased
(test_release_after_erasure.py).
A reach moves with consent too, both ways, and that drift is not bounded here: a
released version whose consented members have since moved by k or more is not loaded
for that channel (README, privacy model). They are loaded one at a time, so a steady
audience's many weekly versions are never all in memory. The check holds the
publication lock to the commit, so that two releases checked at once cannot each pass
against the other's old state.
"""

from __future__ import annotations

import uuid

from endcap.audiences.membership import MembershipRepository, ReleasedVersion
from endcap.consent.models import Purpose
from endcap.privacy.channels import Channel, required_purpose
from endcap.privacy.difference import MemberSet, could_be_near_shrunk, ensure_not_near_duplicate


class ReleaseCheck:
    def __init__(self, audiences: MembershipRepository, k: int, minimum: int) -> None:
        self.audiences = audiences
        self.k = k
        self.minimum = minimum  # a channel reaching fewer is not shown (catalog.py)

    async def ensure_apart(
        self, audience_id: uuid.UUID, version: int, definition: str | None, described_as: str
    ) -> None:
        """TooSimilarAudienceError naming the first released version too close to
        ``version`` of the audience, as a whole or in one channel's reach."""
        await self.audiences.lock_publication()
        members = await self.audiences.member_ids(audience_id, version)
        consented: dict[Purpose, MemberSet] = {}
        for released in await self.audiences.released_versions():
            if released.audience_id == audience_id and released.definition in (None, definition):
                continue  # its own drift (the module docstring)
            lost = released.erased_since
            if could_be_near_shrunk(len(members), released.size, lost, k=self.k):
                await self._compare(members, released, None, described_as)
            for purpose, shown in _purpose_reach(released).items():
                if shown < self.minimum:  # brands were not shown this reach
                    continue
                if purpose not in consented:
                    consented[purpose] = await self.audiences.member_ids(
                        audience_id, version, purpose
                    )
                mine = len(consented[purpose])
                if mine >= self.minimum and could_be_near_shrunk(mine, shown, lost, k=self.k):
                    named = f"{described_as} (its members with {purpose.value} consent)"
                    await self._compare(consented[purpose], released, purpose, named)

    async def _compare(
        self,
        members: MemberSet,
        released: ReleasedVersion,
        purpose: Purpose | None,
        described_as: str,
    ) -> None:
        theirs = await self.audiences.member_ids(released.audience_id, released.version, purpose)
        ensure_not_near_duplicate(
            members, [(str(released.audience_id), theirs)], k=self.k, described_as=described_as
        )


_CHANNELS = frozenset(c.value for c in Channel)


def _purpose_reach(released: ReleasedVersion) -> dict[Purpose, int]:
    """The released version's reach per consent purpose (its channels of one purpose
    count the same members)."""
    found: dict[Purpose, int] = {}
    for channel, reach in released.reach.items():
        if channel in _CHANNELS:  # a channel retired since is nothing brands see now
            found[required_purpose(Channel(channel))] = int(reach)
    return found
