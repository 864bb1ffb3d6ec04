"""The difference check of an audience version about to be shown to brands.

The rule is privacy/difference.py's: no two member sets a brand can see may differ by
1 to k-1 profiles. Here is what it is applied to:

- **Every released version** (released_at), of every audience, whatever it is now:
  what a brand saw stays known to it after that audience is deleted or changed, so
  "A minus one shopper" stays refused then too.
- **Each channel's reach, and the consented size, as well as the whole set.** The
  catalog shows a rounded reach per channel (the members holding that channel's consent
  purpose) and a size counting those holding any. Two audiences 61 shoppers apart whose
  e-mail-consented members differ by one would single that one out through their e-mail
  reach; so per purpose, and for any purpose, the release's members behind the number
  are compared with each released version's, where brands see both (a number below the
  minimum is not shown). Both sides are the members as they held consent when their
  version was refreshed, counted (shown_consent.py): the sets behind the numbers brands
  were shown, which grants and withdrawals since do not move.
- **The audience's own earlier versions only across a change of definition** (its
  rule or model request, service._definition). A steady audience's members drift by
  a few shoppers between refreshes, and refusing that drift would stop every refresh;
  what brands read of one audience over time is rounded (privacy/sizes.py). But a
  rule edited to "the same minus one postal code" is a new audience under an old
  name, and is compared like one. Versions refreshed before migration 0027 have no
  recorded definition and count as the current one.

Candidates are pre-filtered by size (sets whose sizes differ by k or more cannot be
near), from the size, reach and consented size a version was released with, which stay
as brands were shown them. Its members are compared as they are now, erased shoppers
gone, so the filter widens by the customer records erased since its release, and a day
before it (an upper bound of the members lost; erasures are few, so it stays tight): "A
as erasures left it, minus one" is refused however many of A's members were erased
(test_release_after_erasure.py); consent changes move no member set compared here
(test_release_after_consent_change.py). They are loaded one at a time, so a steady
audience's many weekly versions are never all in memory. The check holds the
publication lock to the commit, so that two releases checked at once cannot each pass
against the other's old state.
"""

from __future__ import annotations

import uuid

from endcap.audiences.membership import MembershipRepository, ReleasedVersion
from endcap.audiences.shown_consent import ANY_PURPOSE, PURPOSE_BITS
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
        ``version`` of the audience, as a whole, in one channel's reach or in its
        consented size."""
        await self.audiences.lock_publication()
        members = await self.audiences.member_ids(audience_id, version)
        shown_sets: dict[int, MemberSet] = {}  # the release's, per purpose bits
        for released in await self.audiences.released_versions():
            if released.audience_id == audience_id and released.definition in (None, definition):
                continue  # its own drift (the module docstring)
            lost = released.erased_since
            if could_be_near_shrunk(len(members), released.size, lost, k=self.k):
                await self._compare(members, released, None, described_as)
            for bits, (shown, named) in _shown_counts(released).items():
                if shown < self.minimum:  # brands were not shown this number
                    continue
                if bits not in shown_sets:
                    shown_sets[bits] = await self.audiences.member_ids(audience_id, version, bits)
                mine = len(shown_sets[bits])
                if mine >= self.minimum and could_be_near_shrunk(mine, shown, lost, k=self.k):
                    named_release = f"{described_as} ({named})"
                    await self._compare(shown_sets[bits], released, bits, named_release)

    async def _compare(
        self,
        members: MemberSet,
        released: ReleasedVersion,
        shown: int | None,
        described_as: str,
    ) -> None:
        theirs = await self.audiences.member_ids(released.audience_id, released.version, shown)
        ensure_not_near_duplicate(
            members, [(str(released.audience_id), theirs)], k=self.k, described_as=described_as
        )


_CHANNELS = frozenset(c.value for c in Channel)


def _shown_counts(released: ReleasedVersion) -> dict[int, tuple[int, str]]:
    """The released version's numbers brands saw beside its size, by the purpose bits of
    the members each counts: its reach per consent purpose (its channels of one purpose
    count the same members), and its consented size; with how the release's own members
    behind each are named in a refusal."""
    found: dict[int, tuple[int, str]] = {}
    for channel, reach in released.reach.items():
        if channel in _CHANNELS:  # a channel retired since is nothing brands see now
            purpose = required_purpose(Channel(channel))
            found[PURPOSE_BITS[purpose]] = (int(reach), f"its members with {purpose.value} consent")
    if released.consented_size is not None:
        found[ANY_PURPOSE] = (released.consented_size, "its members with any channel's consent")
    return found
