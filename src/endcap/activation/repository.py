"""Queries for activations: the export stream of a campaign's audiences (the union of their
pinned versions), activation rows, and the contacts delivered files recorded."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Row,
    Select,
    and_,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.models import Activation, ActivationContact, ActivationStatus
from endcap.audiences.models import AudienceMember
from endcap.consent.models import Purpose
from endcap.consent.repository import consented_profiles
from endcap.db.base import table_of
from endcap.db.bulk import (
    copy_rows,
    dialect_insert,
    drop_staged,
    insert_keyed_ids,
    is_postgres,
    staged_rows,
)
from endcap.db.locks import hold_lock, lock_key
from endcap.identity.models import (
    Customer,
    Identifier,
    IdType,
    Profile,
    ProfileMerge,
    SharedIdentifier,
)
from endcap.marketplace.models import (
    Campaign,
    CampaignAudience,
    CampaignEvent,
    CampaignStatus,
    ChannelSettings,
)
from endcap.pagination import PageRequest, keyset
from endcap.privacy.models import ErasureTombstone

MEMBERS = table_of(AudienceMember)
CONTACTS = table_of(ActivationContact)
PROFILES = table_of(Profile)
MERGES = table_of(ProfileMerge)
PROFILE_MOVES_LOCK = "activation-contacts:profile-moves"
ENDED_STATUSES = (CampaignStatus.CANCELLED.value, CampaignStatus.COMPLETED.value)
MATCH_KEY_TYPES = (IdType.EMAIL.value, IdType.PHONE.value)
# (audience id, version): the member versions a campaign pinned when it was booked.
PinnedVersions = Sequence[tuple[uuid.UUID, int]]


class ActivationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- campaigns and channels ----------------------------------------------------------------

    async def campaign(
        self, campaign_id: uuid.UUID, *, for_update: bool = False
    ) -> Campaign | None:
        if not for_update:
            return await self.session.get(Campaign, campaign_id)
        # Row lock: an enqueue waits for a concurrent schedule or cancel of the same campaign.
        query = sm_select(Campaign).where(col(Campaign.id) == campaign_id).with_for_update()
        return (await self.session.exec(query)).first()

    async def pinned_audiences(self, campaign_id: uuid.UUID) -> list[tuple[uuid.UUID, int | None]]:
        """(audience id, pinned version) of each of the campaign's audiences, in its order;
        the version is None until the campaign is booked."""
        query = (
            sm_select(CampaignAudience.audience_id, CampaignAudience.audience_version)
            .where(col(CampaignAudience.campaign_id) == campaign_id)
            .order_by(col(CampaignAudience.position))
        )
        return [(a, v) for a, v in (await self.session.exec(query)).all()]

    async def channel_settings(self, channel: str) -> ChannelSettings | None:
        return await self.session.get(ChannelSettings, channel)

    # -- activation rows -----------------------------------------------------------------------

    async def add(self, activation: Activation) -> Activation:
        self.session.add(activation)
        await self.session.flush()
        return activation

    async def get(self, activation_id: uuid.UUID) -> Activation | None:
        return await self.session.get(Activation, activation_id, populate_existing=True)

    async def finished_before(
        self, activation_ids: Collection[uuid.UUID], before: datetime
    ) -> list[uuid.UUID]:
        """Those of ``activation_ids`` that were delivered or failed before ``before``."""
        a = table_of(Activation).c
        found = await self.session.execute(
            select(a.id).where(
                a.id.in_(list(activation_ids)),
                a.status.in_([ActivationStatus.DELIVERED.value, ActivationStatus.FAILED.value]),
                a.finished_at < before,
            )
        )
        return [uuid.UUID(str(row[0])) for row in found.all()]

    async def list_page(self, campaign_id: uuid.UUID, page: PageRequest) -> list[Activation]:
        stmt = sm_select(Activation).where(col(Activation.campaign_id) == campaign_id)
        stmt = keyset(stmt, col(Activation.created_at), col(Activation.id), page)
        return list((await self.session.exec(stmt)).all())

    async def unfinished_channels(self, campaign_id: uuid.UUID) -> set[str]:
        """Channels of this campaign with an activation queued or running."""
        return await self.channels_with(
            campaign_id, (ActivationStatus.QUEUED, ActivationStatus.RUNNING)
        )

    async def channels_with(
        self, campaign_id: uuid.UUID, statuses: Collection[ActivationStatus]
    ) -> set[str]:
        """Channels of this campaign with an activation in one of ``statuses``."""
        stmt = sm_select(Activation.channel).where(
            col(Activation.campaign_id) == campaign_id, col(Activation.status).in_(statuses)
        )
        return set((await self.session.exec(stmt)).all())

    async def set_fields(self, activation_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(Activation).where(col(Activation.id) == activation_id).values(**values)
        )

    async def mark_sending(self, activation_id: uuid.UUID, method: str, destination: str) -> bool:
        """Record how and where the file is about to go, if the activation is running and no
        run has begun sending it; False otherwise (nothing is written then)."""
        updated = await self.session.execute(
            update(Activation)
            .where(
                col(Activation.id) == activation_id,
                col(Activation.status) == ActivationStatus.RUNNING,
                col(Activation.method).is_(None),
            )
            .values(method=method, destination=destination)
        )
        return bool(updated.rowcount)  # type: ignore[attr-defined]

    async def mark_queued(self, activation_id: uuid.UUID) -> None:
        """Back to queued, as new, if it is queued or running (its job runs it again)."""
        await self.session.execute(
            update(Activation)
            .where(
                col(Activation.id) == activation_id,
                col(Activation.status).in_([ActivationStatus.QUEUED, ActivationStatus.RUNNING]),
            )
            .values(
                status=ActivationStatus.QUEUED,
                method=None,
                destination=None,
                attempts=0,
                error=None,
            )
        )

    async def mark_failed(self, activation_id: uuid.UUID, **values: Any) -> None:
        """Set ``values`` and the failed status, unless the activation was delivered."""
        await self.session.execute(
            update(Activation)
            .where(
                col(Activation.id) == activation_id,
                col(Activation.status) != ActivationStatus.DELIVERED,
            )
            .values(status=ActivationStatus.FAILED, **values)
        )

    # -- contacts across campaigns (activation/pressure.py) ------------------------------------

    async def lock_channel(self, channel: str) -> None:
        """Wait for, then hold until this transaction ends, the channel's export lock
        (a PostgreSQL advisory lock; nothing on SQLite, which has one worker)."""
        if is_postgres(self.session):
            key = channel_lock_key(channel)
            # The hold sits idle in its transaction while the export writes and pushes its
            # file (minutes for a slow channel). A server, database or role setting of
            # idle_in_transaction_session_timeout would end the session meanwhile and the
            # lock with it, silently: a second export would then check the limit before
            # this one recorded whom it reached. Off for this transaction only (set_config
            # with is_local, i.e. SET LOCAL, which PgBouncer's transaction mode allows).
            keep = func.set_config("idle_in_transaction_session_timeout", "0", True)
            await self.session.execute(select(keep, func.pg_advisory_xact_lock(key)))

    async def holds_channel(self, channel: str) -> bool:
        """Whether this session still holds the channel's export lock (:meth:`lock_channel`);
        always on SQLite. Raises the driver's error when the session's connection is gone
        (ended by an administrator, a failover or the network), and the lock with it."""
        if not is_postgres(self.session):
            return True
        # A one-bigint advisory lock shows as classid (high half), objid (low), objsubid 1.
        held = text(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid() AND classid = 0 AND objid::bigint = :key"
            " AND objsubid = 1)"
        )
        found = await self.session.execute(held, {"key": channel_lock_key(channel)})
        return bool(found.scalar_one())

    async def latest_delivered_elsewhere(
        self, channel: str, campaign_id: uuid.UUID, running_on: date
    ) -> dict[uuid.UUID, tuple[uuid.UUID, Campaign]]:
        """Per other campaign whose flight runs on or after ``running_on`` and that has a
        delivered activation on ``channel``: the latest such activation's id, and the
        campaign."""
        query = (
            sm_select(Activation.id, Campaign)
            .join(Campaign, col(Campaign.id) == col(Activation.campaign_id))
            .where(
                col(Activation.channel) == channel,
                col(Activation.status) == ActivationStatus.DELIVERED,
                col(Activation.campaign_id) != campaign_id,
                col(Campaign.ends_on) >= running_on,
            )
            .order_by(col(Activation.finished_at), col(Activation.created_at))
        )
        # Oldest first: a later activation of the same campaign takes its place.
        return {
            campaign.id: (activation_id, campaign)
            for activation_id, campaign in await self._rows(query)
        }

    async def ended_on(self, campaign_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, date]:
        """The day (UTC) each of the campaigns that were cancelled or completed ended."""
        if not campaign_ids:
            return {}
        query = (
            sm_select(CampaignEvent.campaign_id, func.max(CampaignEvent.at))
            .where(
                col(CampaignEvent.campaign_id).in_(campaign_ids),
                col(CampaignEvent.to_status).in_(ENDED_STATUSES),
            )
            .group_by(col(CampaignEvent.campaign_id))
        )
        return {campaign_id: at.date() for campaign_id, at in await self._rows(query)}

    async def contacts_between(
        self, activation_ids: Sequence[uuid.UUID], first: int, last: int
    ) -> Sequence[tuple[int, int]]:
        """(profile id, position in ``activation_ids``) of those activations' contacts with
        a profile id from ``first`` to ``last``: one range of the primary key per
        activation. Positions rather than ids, because a million uuids cost seconds to
        decode and to hash."""
        position = case(
            {activation_id: n for n, activation_id in enumerate(activation_ids)},
            value=CONTACTS.c.activation_id,
        )
        query = select(CONTACTS.c.profile_id, position).where(
            CONTACTS.c.activation_id.in_(activation_ids),
            CONTACTS.c.profile_id.between(first, last),
        )
        rows: Sequence[tuple[int, int]] = (await self.session.execute(query)).tuples().all()
        return rows

    async def add_contacts(self, activation_id: uuid.UUID, profile_ids: np.ndarray) -> None:
        """Record that the activation's file reached ``profile_ids`` (COPY on PostgreSQL)."""
        await insert_keyed_ids(
            self.session, CONTACTS, {"activation_id": activation_id}, "profile_id", profile_ids
        )

    async def lock_profile_moves(self, *, shared: bool) -> None:
        """Wait for, then hold until this transaction ends, the lock between recording
        contacts (``shared``: exports on different channels record side by side) and moving
        or deleting them (exclusive); a PostgreSQL advisory lock, nothing on SQLite, whose
        one writer orders the two anyway (activation/contacts.py says why)."""
        await hold_lock(self.session, PROFILE_MOVES_LOCK, shared=shared)

    async def gone_profiles(self, activation_id: uuid.UUID) -> dict[int, int | None]:
        """The profiles the activation's contacts name that no longer exist, each with the
        profile its latest merge folded it into (None: erased, or gone without a merge)."""
        c, p = CONTACTS.c, PROFILES.c
        gone = select(c.profile_id).where(
            c.activation_id == activation_id, ~exists().where(p.id == c.profile_id)
        )
        return await self._merged_into(gone)

    async def gone_among(self, profile_ids: Iterable[np.ndarray]) -> dict[int, int | None]:
        """Those of ``profile_ids`` (chunks of them) that no longer exist, each with the
        profile its latest merge folded it into, as :meth:`gone_profiles` gives them. The
        ids travel through a temporary table (COPY on PostgreSQL): one anti-join however
        many there are."""
        staged = await staged_rows(
            self.session,
            "file_profiles",
            [Column("profile_id", BigInteger, nullable=False)],
            pa.table({"profile_id": pa.array([], pa.int64())}),
        )
        for chunk in profile_ids:
            await copy_rows(self.session, staged, pa.table({"profile_id": pa.array(chunk)}))
        s, p = staged.c, PROFILES.c
        found = await self._merged_into(
            select(s.profile_id).where(~exists().where(p.id == s.profile_id))
        )
        await drop_staged(self.session, staged)
        return found

    async def _merged_into(self, gone: Select[Any]) -> dict[int, int | None]:
        """The profile ids ``gone`` selects, each with the profile its latest merge folded
        it into (None: none did)."""
        m = MERGES.c
        found: dict[int, int | None] = {
            int(profile_id): None for profile_id in (await self.session.execute(gone)).scalars()
        }
        if found:
            merges = (
                select(m.from_profile_id, m.into_profile_id)
                .where(m.kind == "merge", m.from_profile_id.in_(list(found)))
                .order_by(m.id)
            )
            for old, new in (await self.session.execute(merges)).tuples():
                found[int(old)] = int(new)  # the latest merge of an id is the last one
        return found

    async def hold_profiles(self) -> None:
        """Until this transaction ends, no erasure, merge or split commits, and none is
        half-way: the moves lock shared (:meth:`lock_profile_moves`), and on SQLite, where
        a reader does not hold a writer back, the database's write lock. For a caller that
        reads who is gone and then acts outside the database (activation/spool.py)."""
        await hold_lock(self.session, PROFILE_MOVES_LOCK, shared=True, sqlite_write_lock=CONTACTS)

    async def erasures_seen(self) -> int:
        """How many erasures have committed (tombstones are never deleted): read with
        :meth:`moves_seen`, then again before a file goes out, it tells whether anyone
        can have been erased since the file was read (activation/spool.py)."""
        query = select(func.count()).select_from(table_of(ErasureTombstone))
        return int((await self.session.execute(query)).scalar_one())

    async def moves_seen(self) -> int:
        """The newest merge or split the profiles show now (0 for none), read under the
        moves lock (shared): a move still in progress waits to commit first, and every
        move after has a larger id (ids come from a sequence, or SQLite's one writer)."""
        await self.lock_profile_moves(shared=True)
        newest = await self.session.execute(select(func.coalesce(func.max(MERGES.c.id), 0)))
        return int(newest.scalar_one())

    async def splits_since(self, activation_id: uuid.UUID, seen: int) -> list[tuple[int, int]]:
        """``(from, into)`` of the splits after ``seen`` (:meth:`moves_seen`) off profiles
        the activation's contacts name, oldest first."""
        c, m = CONTACTS.c, MERGES.c
        reached = select(c.profile_id).where(c.activation_id == activation_id)
        splits = (
            select(m.from_profile_id, m.into_profile_id)
            .where(m.kind == "split", m.id > seen, m.from_profile_id.in_(reached))
            .order_by(m.id)
        )
        return [(int(a), int(b)) for a, b in (await self.session.execute(splits)).tuples()]

    async def drop_contacts(self, activation_id: uuid.UUID, profile_ids: Sequence[int]) -> None:
        if profile_ids:
            c = CONTACTS.c
            await self.session.execute(
                delete(CONTACTS).where(
                    c.activation_id == activation_id, c.profile_id.in_(list(profile_ids))
                )
            )

    async def carry_contacts(self, moves: Sequence[tuple[int, int, bool]]) -> None:
        """For each ``(from, into, gone)``: ``into`` is also reached by every file that
        reached ``from`` (a file that reached both keeps one row), and when ``gone`` the
        contacts of ``from`` are deleted. One INSERT ... SELECT and one DELETE however many
        moves; the moves travel through a temporary table (COPY on PostgreSQL)."""
        if not moves:
            return
        source, into, gone = zip(*moves, strict=True)
        columns = {
            "from_profile_id": pa.array(source, pa.int64()),
            "into_profile_id": pa.array(into, pa.int64()),
            "gone": pa.array(gone, pa.bool_()),
        }
        staged = await staged_rows(
            self.session,
            "contact_moves",
            [
                Column("from_profile_id", BigInteger, nullable=False),
                Column("into_profile_id", BigInteger, nullable=False),
                Column("gone", Boolean, nullable=False),
            ],
            pa.table(columns),
        )
        c, m = CONTACTS.c, staged.c
        carried = (
            select(c.activation_id, m.into_profile_id)
            .join(staged, m.from_profile_id == c.profile_id)
            .where(true())  # SQLite: tells the upsert's ON from a join's
            .distinct()
        )
        await self.session.execute(
            dialect_insert(self.session, CONTACTS)
            .from_select(["activation_id", "profile_id"], carried)
            .on_conflict_do_nothing(index_elements=["activation_id", "profile_id"])
        )
        await self.session.execute(
            delete(CONTACTS).where(c.profile_id.in_(select(m.from_profile_id).where(m.gone)))
        )
        await drop_staged(self.session, staged)

    async def _rows(self, query: Select[Any]) -> Sequence[Row[Any]]:
        return (await self.session.execute(query)).all()

    # -- the export stream ---------------------------------------------------------------------

    async def count_members(self, versions: PinnedVersions) -> int:
        """Shoppers in the union of ``versions``, each counted once."""
        stmt = select(func.count()).select_from(targeted(versions).subquery())
        return int((await self.session.execute(stmt)).scalar_one())

    async def stream_members(
        self,
        versions: PinnedVersions,
        purpose: Purpose,
        *,
        with_match_keys: bool,
        chunk_rows: int,
    ) -> AsyncIterator[Sequence[Row[Any]]]:
        """Every shopper in the union of the member ``versions``, once, in ``profile_id``
        order, in chunks.

        Rows are ``(profile_id, consented)``, and with ``with_match_keys`` also
        ``(id_type, id_value)`` — one row per match key, or one row of NULLs for a
        profile without any. Consent is read by this very statement (one snapshot), so
        it is the consent of the moment the export runs. The rows come through a
        server-side cursor: at most ``chunk_rows`` of them are in memory at once.
        """
        result = await self.session.stream(
            members_statement(versions, purpose, with_match_keys=with_match_keys),
            execution_options={"yield_per": chunk_rows},
        )
        async for chunk in result.partitions():
            yield chunk


def targeted(versions: PinnedVersions) -> Select[Any]:
    """The profile ids of the union of ``versions``, each once.

    One version holds a profile once (its primary key), so it needs no DISTINCT and its
    statement stays the plain index range it was before campaigns had several audiences.
    """
    if not versions:
        raise ValueError("a campaign targets at least one audience version")
    m = MEMBERS.c
    query = select(m.profile_id).where(
        or_(*(and_(m.audience_id == a, m.version == v) for a, v in versions))
    )
    return query if len(versions) == 1 else query.distinct()


def members_statement(
    versions: PinnedVersions, purpose: Purpose, *, with_match_keys: bool
) -> Select[Any]:
    """The export's one statement (see :meth:`ActivationRepository.stream_members`).

    Public so that the benchmark can time the same SQL as a raw COPY.
    """
    members = targeted(versions).subquery("members")
    consented = consented_profiles(purpose).subquery("consented")
    columns: list[Any] = [
        members.c.profile_id,
        consented.c.profile_id.is_not(None).label("consented"),
    ]
    source = members.outerjoin(consented, consented.c.profile_id == members.c.profile_id)
    if with_match_keys:
        keys = match_keys().subquery("match_keys")
        columns += [keys.c.id_type, keys.c.id_value]
        source = source.outerjoin(keys, keys.c.profile_id == members.c.profile_id)
    return select(*columns).select_from(source).order_by(members.c.profile_id)


def match_keys() -> Select[Any]:
    """(profile_id, id_type, id_value) of every e-mail and phone hash, shared ones left out.

    A shared identifier (a family e-mail, a shop's phone) belongs to no one person,
    so it is never handed to a platform. A profile with several customer records may
    repeat a key; the export writes each key of a profile once.
    """
    i, c, s = table_of(Identifier).c, table_of(Customer).c, table_of(SharedIdentifier).c
    shared = exists().where(s.id_type == i.id_type, s.id_value == i.id_value)
    return (
        select(c.profile_id, i.id_type, i.id_value)
        .select_from(table_of(Identifier).join(table_of(Customer), c.id == i.customer_ref))
        .where(i.id_type.in_(MATCH_KEY_TYPES), c.profile_id.is_not(None), ~shared)
    )


def channel_lock_key(channel: str) -> int:
    """The advisory lock key of the channel's export lock (under 2**32, so one bigint)."""
    return lock_key(f"activation-contacts:{channel}")
