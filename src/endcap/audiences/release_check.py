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
  were shown, which grants and withdrawals since do not move. (Versions refreshed before
  migration 0031 carry the consent their shoppers held at the upgrade instead, the
  nearest record of what they held at their refresh.) A version from before migration
  0029 showed its whole size: a later consented size is compared with that set.
- **The audience's own earlier versions only across a change of definition** (its
  rule or model request, service._definition). A steady audience's members drift by
  a few shoppers between refreshes, and refusing that drift would stop every refresh;
  what brands read of one audience over time is rounded (privacy/sizes.py). But a
  rule edited to "the same minus one postal code" is a new audience under an old
  name, and is compared like one. Versions refreshed before migration 0027 have no
  recorded definition and count as the current one.

Candidates are pre-filtered by size (sets whose sizes differ by k or more cannot be
near), from the size, reach and consented size a version was counted with at its
refresh, which stay as brands were shown them. Its members are compared as they are now,
erased shoppers gone, so the filter widens by the customer records erased since its
refresh, and a day before it (an upper bound of the members lost; erasures are few, so
it stays tight): "A as erasures left it, minus one" is refused however many of A's
members were erased (test_release_after_erasure.py), and a number is compared whenever
brands see it, though erasures took the members behind it below the minimum since;
consent changes move no member set compared here (test_release_after_consent_change.py).
They are loaded one at a time, so a steady audience's many weekly versions are never all
in memory. The check holds the publication lock to the commit, so that two releases
checked at once cannot each pass against the other's old state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from endcap.audiences.membership import MembershipRepository, ReleasedVersion
from endcap.audiences.shown_consent import ANY_PURPOSE, PURPOSE_BITS
from endcap.privacy.channels import Channel, required_purpose
from endcap.privacy.difference import MemberSet, could_be_near_shrunk, ensure_not_near_duplicate


@dataclass(frozen=True, slots=True)
class Shown:
    """The numbers a version shows brands, as its refresh counted them: its size, its reach
    per channel and its consented size (None before migration 0029: brands see ``size``)."""

    size: int
    reach: dict[str, int]
    consented_size: int | None


# Per number beside the whole size: the purpose bits of the members it counts (None: all
# of them), the number, and how those members are named in a refusal.
Numbers = dict[str, tuple[int | None, int, str]]


class ReleaseCheck:
    def __init__(self, audiences: MembershipRepository, k: int, minimum: int) -> None:
        self.audiences = audiences
        self.k = k
        self.minimum = minimum  # a number below it is not shown (catalog.py)

    async def ensure_apart(
        self,
        audience_id: uuid.UUID,
        version: int,
        definition: str | None,
        described_as: str,
        shown: Shown,
    ) -> None:
        """TooSimilarAudienceError naming the first released version too close to
        ``version`` of the audience (which will show brands ``shown``), as a whole, in one
        channel's reach or in its consented size."""
        await self.audiences.lock_publication()
        members = await self.audiences.member_ids(audience_id, version)
        mine = _numbers(shown)
        sets: dict[int | None, MemberSet] = {None: members}  # the release's, by bits
        for released in await self.audiences.released_versions():
            if released.audience_id == audience_id and released.definition in (None, definition):
                continue  # its own drift (the module docstring)
            lost = released.erased_since
            if could_be_near_shrunk(len(members), released.size, lost, k=self.k):
                await self._compare(members, released, None, described_as)
            theirs = _numbers(Shown(released.size, released.reach, released.consented_size))
            for number, (their_bits, their_count, _) in theirs.items():
                if number not in mine:
                    continue
                my_bits, my_count, named = mine[number]
                if my_bits is None and their_bits is None:
                    continue  # the whole sets, compared above
                if min(my_count, their_count) < self.minimum:  # brands see one as "<min"
                    continue
                if my_bits not in sets:
                    sets[my_bits] = await self.audiences.member_ids(audience_id, version, my_bits)
                compared = sets[my_bits]
                if could_be_near_shrunk(len(compared), their_count, lost, k=self.k):
                    named_release = f"{described_as} ({named})"
                    await self._compare(compared, released, their_bits, named_release)

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


def _numbers(shown: Shown) -> Numbers:
    """What a version shows brands beside its whole size: its reach per consent purpose
    (its channels of one purpose count the same members) and its size as brands read it,
    the consented size (the whole size before migration 0029: then the size number is
    over all its members, and a later version's consented size is compared with that)."""
    found: Numbers = {}
    for channel, reach in shown.reach.items():
        if channel in _CHANNELS:  # a channel retired since is nothing brands see now
            purpose = required_purpose(Channel(channel))
            named = f"its members with {purpose.value} consent"
            found[purpose.value] = (PURPOSE_BITS[purpose], int(reach), named)
    if shown.consented_size is None:
        found["size"] = (None, shown.size, "its members")
    else:
        named = "its members with any channel's consent"
        found["size"] = (ANY_PURPOSE, shown.consented_size, named)
    return found
