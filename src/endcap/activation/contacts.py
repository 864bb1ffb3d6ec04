"""Who each delivered activation reached, and what an export reads of it to keep the
channel's contact limit across campaigns (the rule itself: :mod:`endcap.activation.pressure`).

Two exports on one channel that ran at once would each check the limit against the
other campaigns' delivered files before either had recorded its own, and could
together push a shopper over it. So an export holds its channel (:meth:`Contacts.hold`)
from before it reads anyone's contacts until its own are recorded with its delivery,
or it failed: exports on one channel run one after the other, exports on different
channels side by side. On PostgreSQL that is a transaction-level advisory lock in a
session of its own, kept open (idle, with no snapshot, so it holds back no vacuum) for
the export, with ``idle_in_transaction_session_timeout`` off for that transaction so the
server cannot end it, and the lock, halfway; unlike a session-level lock it works behind
PgBouncer's transaction mode (whose own ``idle_transaction_timeout`` must stay off or
above the longest export: see infra/README.md).
SQLite needs none: it has one writer and one worker, which runs exports one at a time.

An export reads its shoppers when it writes its file and records them as contacts after
the channel took the file, seconds or minutes later. A key-chain merge or an erasure
that commits in between moves or deletes the contacts of profiles that the export has
not recorded yet, and would leave the export's rows behind on an id that names nobody
(or a shopper who asked to be forgotten). So recording and moving are ordered by a
second lock (:meth:`ActivationRepository.lock_profile_moves`: recordings share it,
moves and erasures take it alone), and a recording, once it holds it, follows what
committed before it (:meth:`Contacts.record`); a move that waited for a recording finds
its rows. A split leaves both profiles in place, so nothing looks gone: the export
notes the newest move before it reads (:meth:`Contacts.moves_seen`, under the same
lock, so no move is half-way then), and the recording copies its rows to the profiles
split off since. The file itself may hold an erased shopper too: the export holds the
same lock shared while it leaves them out of it, until it is in the drop
(:mod:`endcap.activation.spool`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Row
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.pressure import ContactPressure, Flight
from endcap.activation.repository import ActivationRepository
from endcap.errors import EndcapError
from endcap.marketplace.models import Campaign, CampaignStatus
from endcap.marketplace.plan import week_start
from endcap.privacy.channels import Channel

# A campaign ended so: its files stop counting against the limit after the week it ended.
ENDED = frozenset({CampaignStatus.CANCELLED, CampaignStatus.COMPLETED})
# Merges of one shopper followed while one file was out, at most (see Contacts.record).
MAX_HOPS = 8


class ChannelHoldLostError(EndcapError):
    """The export's hold on its channel ended before its file went out: another export
    may have checked the contact limit without it, so it is not sent."""

    def __init__(self, channel: Channel, why: str) -> None:
        super().__init__(
            f"the export lost its hold on the {channel.value} channel ({why}) before the"
            " file went out: nothing was sent; enqueue the export again"
        )


class Contacts:
    def __init__(self, activations: ActivationRepository, chunk_rows: int) -> None:
        self.activations = activations
        self.chunk_rows = chunk_rows

    async def hold(self, channel: Channel) -> None:
        """Wait for, then hold until the session's transaction ends, the channel (see the
        module docstring)."""
        await self.activations.lock_channel(channel.value)

    async def check_hold(self, channel: Channel) -> None:
        """Raise ChannelHoldLostError unless this session still holds the channel
        (:meth:`hold`): its connection can end under it (an administrator, a failover,
        the network), silently releasing the lock while the export goes on."""
        try:
            held = await self.activations.holds_channel(channel.value)
        except DBAPIError as exc:
            raise ChannelHoldLostError(channel, f"its database session ended: {exc.orig}") from exc
        if not held:
            raise ChannelHoldLostError(channel, "the lock is no longer held")

    async def pressure(
        self, channel: Channel, campaign: Campaign, today: date
    ) -> ContactPressure | None:
        """The rule for an export of ``campaign`` on ``channel`` made ``today``, against the
        other campaigns' latest delivered files there; None when the channel has no
        settings (and so no limit)."""
        settings = await self.activations.channel_settings(channel.value)
        if settings is None:
            return None
        latest = await self.activations.latest_delivered_elsewhere(
            channel.value, campaign.id, week_start(today)
        )
        ended = await self.activations.ended_on(
            [c.id for _, c in latest.values() if c.status in ENDED]
        )
        return ContactPressure(
            limit=settings.max_per_profile_week,
            own=_flight(campaign, ended),
            others={file: _flight(c, ended) for file, c in latest.values()},
            today=today,
        )

    async def left_out(
        self, pressure: ContactPressure | None, chunk: Sequence[Row[Any]]
    ) -> set[int]:
        """The chunk's profiles over the limit: one query for the chunk's range of profile
        ids (the export's rows come in profile id order), none when nobody can be over."""
        if pressure is None or not chunk:
            return set()
        if pressure.excludes_everyone:
            return {row[0] for row in chunk}
        if not pressure.needs_contacts:
            return set()
        first, last = chunk[0][0], chunk[-1][0]
        contacts = await self.activations.contacts_between(pressure.files, first, last)
        return pressure.left_out((row[0] for row in chunk), contacts)

    async def moves_seen(self) -> int:
        """Call before reading the shoppers for a file, in a transaction of its own: what
        :meth:`record` later follows is every merge, split and erasure after this."""
        return await self.activations.moves_seen()

    async def record(self, activation_id: uuid.UUID, profile_ids: Path, *, seen: int) -> None:
        """Record whom the activation reached, from the file of native int64 profile ids
        the export wrote: a chunk at a time, each one COPY on PostgreSQL. Then the rows of
        profiles merged away, split or erased since the export read them (``seen``, from
        :meth:`moves_seen`) follow them (see the module docstring)."""
        await self.activations.lock_profile_moves(shared=True)
        with profile_ids.open("rb") as handle:
            while (ids := np.fromfile(handle, dtype=np.int64, count=self.chunk_rows)).shape[0]:
                await self.activations.add_contacts(activation_id, ids)
        await self._follow_moves(activation_id, seen)

    async def _follow_moves(self, activation_id: uuid.UUID, seen: int) -> None:
        """A merged-away profile's rows go to the profile it was merged into, hop by hop
        (that one may have been merged on too); an erased one's are deleted; a profile
        split since the file was read also gives its row to the split-off profile, as
        :func:`follow_profiles` does for the rows it finds. One anti-join of the
        activation's contacts with the profiles, and one look-up of the splits, when
        nothing moved (about 0.2 s for a million contacts on PostgreSQL 15)."""
        followed: set[tuple[int, int]] = set()
        for _ in range(MAX_HOPS):
            splits = [
                split
                for split in await self.activations.splits_since(activation_id, seen)
                if split not in followed
            ]
            followed.update(splits)
            await self.activations.carry_contacts([(old, new, False) for old, new in splits])
            gone = await self.activations.gone_profiles(activation_id)
            if not gone and not splits:
                return
            merged = [(old, new, True) for old, new in gone.items() if new is not None]
            await self.activations.carry_contacts(merged)
            await self.activations.drop_contacts(
                activation_id, [old for old, new in gone.items() if new is None]
            )
        # Merged on more often than that while one file was out: nobody left to count.
        gone = await self.activations.gone_profiles(activation_id)
        await self.activations.drop_contacts(activation_id, list(gone))


async def follow_profiles(session: AsyncSession, moves: Sequence[tuple[int, int, bool]]) -> None:
    """Keep the contacts with the shoppers when key chains re-resolve, in the caller's
    transaction: for each ``(from, into, merged)`` the ``into`` profile counts every file
    that reached ``from``; a merged-away ``from`` (``merged``) keeps none.

    Without this a merge reset the shopper's contact pressure: the surviving profile knew
    only its own files, and the merged-away id's rows were left behind (outliving an
    erasure of the survivor, and waiting for a new profile to reuse the id). A split copies
    rather than moves: contacts are kept per profile, not per record, so which of the
    records a file reached is not known, and both sides keep it (erring towards fewer
    contacts, which is what the limit is for).
    A file that reached both profiles keeps one row for the survivor rather than adding
    the two up: a campaign plans its frequency cap per shopper, and from the merge on the
    shopper is one person to every channel (the merged-away id resolves to nothing any
    more, and the campaign's next file lists them once). Counting the file twice would
    hold them to contacts no campaign plans, and leave them out of campaigns that are
    still within the limit.
    """
    if not moves:
        return
    repository = ActivationRepository(session)
    await repository.lock_profile_moves(shared=False)
    await repository.carry_contacts(moves)


async def hold_back_recordings(session: AsyncSession) -> None:
    """Before deleting profiles' contacts (an erasure) or recording merges and splits: wait
    for the exports recording theirs, and keep new ones (and their reads of what moved)
    waiting until this transaction ends, so that none records a row of an erased shopper
    after the deletion, nor misses a move (see the module docstring)."""
    await ActivationRepository(session).lock_profile_moves(shared=False)


def _flight(campaign: Campaign, ended: Mapping[uuid.UUID, date]) -> Flight:
    """The contacts ``campaign`` plans per shopper; ``ended`` holds the day each cancelled
    or completed campaign ended (its last change, should the audit trail lack it)."""
    ended_on = None
    if campaign.status in ENDED:
        ended_on = ended.get(campaign.id, campaign.updated_at.date())
    return Flight(campaign.starts_on, campaign.ends_on, campaign.frequency_cap, ended_on)
