"""The consent each member held when its audience version was refreshed, kept as bits.

A version's reach per channel and its consented size are counted at its refresh, and the
catalog shows them from then on. The difference check must compare the member sets behind
those numbers, not the ones consent makes of them later: grants after a release would move
"A's e-mail members as shown, minus one shopper" 60 away from A's e-mail members now, and
the pair would pass while brands hold two reaches one shopper apart. So each member row
keeps, in ``audience_members.purposes_at_refresh``, one bit per channel consent purpose it
held at the refresh; the reach, the consented size and the difference check all read them.
What reaches a shopper is never read from here: exports and approvals check consent live.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import ColumnElement, Subquery, case, func, select

from endcap.consent.models import ProfileConsent, Purpose
from endcap.db.base import table_of
from endcap.privacy.channels import CHANNEL_PURPOSE

# One bit per purpose some channel needs, spelled out: stored rows keep them, so a purpose
# added later takes a new bit and never renumbers these (migration 0031 wrote the same).
PURPOSE_BITS: Final[Mapping[Purpose, int]] = MappingProxyType(
    {Purpose.EMAIL: 1, Purpose.TARGETING_OFFSITE: 2, Purpose.TARGETING_ONSITE: 4}
)
if set(PURPOSE_BITS) != set(CHANNEL_PURPOSE.values()):  # pragma: no cover - import-time guard
    raise RuntimeError("every channel's consent purpose needs a bit in PURPOSE_BITS")
# Any channel's purpose: the members a version's consented size counts.
ANY_PURPOSE: Final = sum(PURPOSE_BITS.values())


def held_now() -> Subquery:
    """Per profile holding some channel's purpose now: ``profile_id`` and its ``bits``.

    A sum of distinct bits is their OR (a profile holds each purpose at most once: the
    primary key), and it runs on both databases, which share no bitwise aggregate."""
    c = table_of(ProfileConsent).c
    bit = case({p.value: b for p, b in PURPOSE_BITS.items()}, value=c.purpose, else_=0)
    return (
        select(c.profile_id, func.sum(bit).label("bits"))
        .where(c.purpose.in_([p.value for p in PURPOSE_BITS]))
        .group_by(c.profile_id)
        .subquery("held_now")
    )


def holds(bits: ColumnElement[Any], mask: int) -> ColumnElement[bool]:
    """Whether ``bits`` hold any purpose of ``mask``."""
    return bits.op("&")(mask) != 0
