"""Erasure (GDPR art. 17): remove a shopper from every table and every later aggregate.

The person is the whole profile: every customer record the key chain joined,
with their identifiers, consent events and attributes. Purchases are detached
(kept as anonymous lines, so category totals stay right) or deleted, per
``ENDCAP_PRIVACY_ERASURE_TRANSACTIONS``. Activation files still waiting in the file
drop lose the person's rows (drop_files.py); one still in an export's spool loses them
before it goes out (activation/spool.py). A tombstone records that it happened,
without any personal data. Erasing by a shared identifier (a house card) is
refused: it would erase strangers.

The person leaves every audience version's members, booked ones too, but the counts a
version was released with (its size and reach, which the catalog shows) stay as they
were: "later aggregates" are the next refresh's, and a brand-facing number that moved
by one at an erasure would tell a brand that one of its shoppers was just erased. What
approval checks against the minimum is counted live (marketplace/approvals.py).
"""

from __future__ import annotations

import asyncio
import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.contacts import hold_back_recordings
from endcap.activation.delivery import drop_folder, drop_path
from endcap.config import Settings
from endcap.db.types import utcnow
from endcap.errors import ConflictError, NotFoundError
from endcap.identity.models import Customer
from endcap.identity.repository import IdentityRepository
from endcap.identity.schemas import IdentifierQuery
from endcap.identity.service import IdentityService
from endcap.privacy.drop_files import scrub_files
from endcap.privacy.models import ErasureTombstone
from endcap.privacy.repository import ErasureRepository
from endcap.privacy.schemas import ErasureRequest, Tombstone


class ErasureService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.identity = IdentityService(session, settings.identity)
        self.customers = IdentityRepository(session)
        self.erase_rows = ErasureRepository(session)
        self.policy = settings.privacy.erasure_transactions
        self.drop_dir = drop_folder(settings.activation)

    async def erase(self, request: ErasureRequest, *, requested_by: uuid.UUID | None) -> Tombstone:
        """NotFoundError if nobody matches; ConflictError for a shared identifier."""
        named = await self._named(request)
        profile_ids = sorted({c.profile_id for c in named if c.profile_id is not None})
        records: dict[int, Customer] = {c.id: c for c in named if c.id is not None}
        for profile_id in profile_ids:
            records.update(
                {
                    c.id: c
                    for c in await self.customers.profile_customers(profile_id)
                    if c.id is not None
                }
            )
        refs = sorted(records)
        match_keys = await self.erase_rows.match_keys(refs)  # before the identifiers go
        tombstone = ErasureTombstone(
            requested_by_id_type=request.id_type.value if request.id_type else "customer_id",
            requested_by_key=requested_by,
            transactions_policy=self.policy,
            identifiers_removed=await self.erase_rows.identifiers(refs),
            consent_events_removed=await self.erase_rows.consent_events(refs),
            transactions_affected=await self.erase_rows.transactions(
                profile_ids, detach=self.policy == "detach"
            ),
            customers_removed=await self.erase_rows.customers(refs),
        )
        # Before the records go: a reload of files that still hold them must not bring
        # the person back (ingest/suppress.py).
        await self.erase_rows.suppress([c.customer_id for c in records.values()])
        await hold_back_recordings(self.session)
        # Before the contacts go: they say which dropped files reached the person. A file
        # that cannot be rewritten fails the erasure, so it rolls back and can be retried.
        # Files written before a merge name the person by an id merged away since.
        named_by = [*profile_ids, *await self.erase_rows.merged_into(profile_ids)]
        files = await self.erase_rows.dropped_files(named_by)
        files += [
            str(drop_path(self.drop_dir, campaign, channel, activation))
            for campaign, channel, activation in await self.erase_rows.failed_exports()
        ]
        tombstone.activation_files_scrubbed = await asyncio.to_thread(
            scrub_files, files, self.drop_dir, named_by, match_keys
        )
        # Versions, seeds and contacts written before a merge hold the id merged away.
        await self.erase_rows.profiles(named_by)
        tombstone.erased_at = utcnow()  # done, but for the commit (see membership.py)
        stored = await self.erase_rows.add_tombstone(tombstone)
        return Tombstone.model_validate(stored, from_attributes=True)

    async def _named(self, request: ErasureRequest) -> list[Customer]:
        if request.customer_id is not None:
            customer = await self.customers.customer(request.customer_id)
            if customer is None:
                raise NotFoundError("no customer record matches the request")
            return [customer]
        query = IdentifierQuery.model_validate({"id_type": request.id_type, "value": request.value})
        customers, shared = await self.identity.customers_for(query)
        if not customers:
            raise NotFoundError("no customer record matches the request")
        if shared:
            raise ConflictError(
                f"that {request.id_type} is shared by {len(customers)} customer records; "
                "erase by customer_id instead"
            )
        return customers
