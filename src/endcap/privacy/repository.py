"""The deletes behind an erasure, across every table that holds a shopper's data."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CursorResult, Executable, and_, delete, or_, select, union, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.contacts import MAX_HOPS
from endcap.activation.models import Activation, ActivationContact, ActivationStatus
from endcap.activation.repository import MATCH_KEY_TYPES
from endcap.audiences.models import AudienceMember, AudienceSeed
from endcap.consent.models import ConsentEvent, ProfileConsent
from endcap.db.base import table_of
from endcap.db.bulk import dialect_insert
from endcap.db.hashing import sha256_hex
from endcap.db.types import utcnow
from endcap.identity.models import Customer, Identifier, Profile, ProfileMerge
from endcap.privacy.models import ErasedCustomer, ErasureTombstone
from endcap.purchases.models import TransactionLine
from endcap.traits.models import SPEND_SAMPLE, TRAITS_SAMPLE, ProfileSpend, ProfileTraits


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def suppress(self, customer_ids: Sequence[str]) -> None:
        """Put the customer ids on the suppression list (as hashes; once each)."""
        if not customer_ids:
            return
        now = utcnow()
        rows = [{"key_hash": sha256_hex(c), "erased_at": now} for c in sorted(set(customer_ids))]
        await self.session.execute(
            dialect_insert(self.session, table_of(ErasedCustomer))
            .values(rows)
            .on_conflict_do_nothing(index_elements=["key_hash"])
        )

    async def match_keys(self, customer_refs: Sequence[int]) -> list[str]:
        """The e-mail and phone hashes of the records: an off-site file's match keys."""
        query = select(col(Identifier.id_value)).where(
            col(Identifier.customer_ref).in_(customer_refs),
            col(Identifier.id_type).in_(MATCH_KEY_TYPES),
        )
        return [str(k) for k in (await self.session.execute(query)).scalars()]

    async def dropped_files(self, profile_ids: Sequence[int]) -> list[str]:
        """Where the file-drop activations that reached the profiles put their files, and
        those of file drops still under way: their contacts are recorded only once the file
        is in the drop, and that recording will leave the erased out (activation/contacts.py
        ``hold_back_recordings``), but the file may hold them.

        Call it after ``hold_back_recordings``. A file still in the spool is not in the
        drop yet, and needs no rewrite: just before its move, its export leaves out whoever
        was erased since its read, and holds that lock shared from then until the file is
        in the drop (activation/spool.py). So this erasure either committed before that
        look-up, which leaves the person out, or finds the file here, in the drop (its
        destination is committed before the look-up)."""
        a, c = table_of(Activation).c, table_of(ActivationContact).c
        dropped = and_(a.method == "file", a.destination.is_not(None))
        reached = (
            select(a.destination)
            .join_from(table_of(Activation), table_of(ActivationContact), c.activation_id == a.id)
            .where(c.profile_id.in_(profile_ids), dropped)
        )
        under_way = select(a.destination).where(dropped, a.status == ActivationStatus.RUNNING)
        query = union(reached, under_way)
        return [str(d) for d in (await self.session.execute(query)).scalars()]

    async def failed_exports(self) -> list[tuple[uuid.UUID, str, uuid.UUID]]:
        """(campaign, channel, activation) of each failed activation. One that failed
        after its file was in the drop (its delivery could not be recorded, or its worker
        died while sending) keeps no destination, yet the channel may not have fetched
        the file: it is found where a drop puts it (activation/delivery.py drop_path)."""
        a = table_of(Activation).c
        query = select(a.campaign_id, a.channel, a.id).where(a.status == ActivationStatus.FAILED)
        return [(c, str(ch), i) for c, ch, i in (await self.session.execute(query)).tuples()]

    async def merged_into(self, profile_ids: Sequence[int]) -> list[int]:
        """The profile ids merged, hop by hop, into the profiles: a file written before a
        merge names the person by one of those (their contacts moved to the survivor).

        An id some customer record holds now is not followed: it was given to a newer
        shopper (before ids stopped being reused, identity/repository.py
        ``next_profile_id``), and what it names is theirs. Live means held by a customer
        record (a profile without one is dropped), not read from ``profiles``: a read
        lock on it here, before the spend rows are deleted, would deadlock with a full
        trait refresh swapping its tables (traits/repository.py ``drop_erased``)."""
        m, c = table_of(ProfileMerge).c, table_of(Customer).c
        found: set[int] = set()
        frontier = set(profile_ids)
        for _ in range(MAX_HOPS):
            if not frontier:
                break
            query = select(m.from_profile_id).where(
                m.kind == "merge", m.into_profile_id.in_(sorted(frontier))
            )
            frontier = {int(p) for p in (await self.session.execute(query)).scalars()}
            frontier -= found | set(profile_ids)
            if frontier:
                held = select(c.profile_id).where(c.profile_id.in_(sorted(frontier))).distinct()
                frontier -= {int(p) for p in (await self.session.execute(held)).scalars()}
            found |= frontier
        return sorted(found)

    async def _delete(self, statement: Executable) -> int:
        result: CursorResult[Any] = await self.session.execute(statement)  # type: ignore[assignment]
        return int(result.rowcount or 0)

    async def identifiers(self, customer_refs: Sequence[int]) -> int:
        return await self._delete(
            delete(Identifier).where(col(Identifier.customer_ref).in_(customer_refs))
        )

    async def consent_events(self, customer_refs: Sequence[int]) -> int:
        return await self._delete(
            delete(ConsentEvent).where(col(ConsentEvent.customer_ref).in_(customer_refs))
        )

    async def transactions(self, profile_ids: Sequence[int], *, detach: bool) -> int:
        """Detach (keep the anonymous lines) or delete the profiles' purchases.

        By profile: the indexed distribution key, kept in step with every record's lines.
        """
        owned = col(TransactionLine.profile_id).in_(profile_ids)
        if detach:
            statement: Executable = (
                update(TransactionLine).where(owned).values(customer_id=None, profile_id=None)
            )
        else:
            statement = delete(TransactionLine).where(owned)
        return await self._delete(statement)

    async def customers(self, customer_refs: Sequence[int]) -> int:
        return await self._delete(delete(Customer).where(col(Customer.id).in_(customer_refs)))

    async def profiles(self, profile_ids: Sequence[int]) -> int:
        """The profiles, their merge history, their traits, their consent state, their
        place in audiences (pinned versions too: an erased shopper leaves every list, sold
        or not) and the record of which activations reached them."""
        for model in (
            ProfileSpend,
            ProfileTraits,
            ProfileConsent,
            AudienceMember,
            AudienceSeed,
            ActivationContact,
        ):
            await self._delete(delete(model).where(col(model.profile_id).in_(profile_ids)))
        for table in (SPEND_SAMPLE, TRAITS_SAMPLE):  # the estimate sample's copies
            await self._delete(delete(table).where(table.c.profile_id.in_(profile_ids)))
        await self._delete(
            delete(ProfileMerge).where(
                or_(
                    col(ProfileMerge.from_profile_id).in_(profile_ids),
                    col(ProfileMerge.into_profile_id).in_(profile_ids),
                )
            )
        )
        deleted = await self._delete(delete(Profile).where(col(Profile.id).in_(profile_ids)))
        # Again, now that the profile is gone: an incremental trait refresh that rewrote
        # these rows held them, and the profile row, until it committed; the first delete
        # waited and skipped the rows it had seen, but this new statement sees the ones
        # the refresh wrote (traits/repository.py ``drop_erased``).
        for table in (table_of(ProfileSpend), SPEND_SAMPLE):
            await self._delete(delete(table).where(table.c.profile_id.in_(profile_ids)))
        return deleted

    async def add_tombstone(self, tombstone: ErasureTombstone) -> ErasureTombstone:
        self.session.add(tombstone)
        await self.session.flush()
        return tombstone
