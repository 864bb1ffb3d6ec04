"""The current consent state (``profile_consents``) and what keeps it in step with the ledger.

The ledger's rule (:mod:`endcap.consent.service`) decides; this table holds its answer
per profile and purpose, so that reach, overlaps and exports join one narrow table
instead of aggregating every event ever recorded. It is only as right as its writers,
so every change that can alter a profile's answer recomputes that profile, set-based,
in its own transaction (:func:`refresh_consents`):

- an event appended to one of its customer records (the API, an ingest load);
- a customer record moving between profiles (key-chain resolution: both sides);
- erasure, which deletes the profile: its rows go with it (a cascading foreign key,
  and :mod:`endcap.privacy.repository` deletes them by name as well).

Two writers touching one person at once (a withdrawal over the API while a load
appends a grant to another of their records, or while resolution moves that record)
would each recompute from a ledger missing the other's rows, and whichever committed
last would leave its stale answer. So every writer takes one lock before it reads the
ledger and holds it to its commit: on PostgreSQL a transaction-level advisory lock,
after which each statement (READ COMMITTED) sees every event and move committed before;
on SQLite the write lock, which its single writer takes anyway.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Select, Table, and_, case, delete, func, insert, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.consent.models import ConsentEvent, ConsentStatus, ProfileConsent
from endcap.db.base import table_of
from endcap.db.bulk import drop_staged, staged_ids
from endcap.db.locks import hold_lock
from endcap.identity.models import Customer

CONSENTS = table_of(ConsentEvent)
CUSTOMERS = table_of(Customer)
STATE = table_of(ProfileConsent)
CONSENT_LOCK: Final = "consent-state"


async def lock_consents(session: AsyncSession) -> None:
    """Wait for any other transaction changing consent state to commit, and hold the lock
    to the end of this one (see the module docstring). Taking it twice is harmless."""
    await hold_lock(session, CONSENT_LOCK, sqlite_write_lock=STATE)


def ledger_consents(profiles: Table | None = None) -> Select[Any]:
    """(profile_id, purpose, granted_at) of every pair whose latest event, across all the
    profile's customer records, is a grant: the rule of
    :func:`endcap.consent.service.current_state` in SQL. A grant must be strictly later
    than every withdrawal, so a tie goes to the withdrawal. ``profiles`` (a table with a
    ``profile_id`` column) limits it to those profiles."""
    e, c = CONSENTS.c, CUSTOMERS.c
    granted = func.max(case((e.status == ConsentStatus.GRANTED.value, e.recorded_at)))
    withdrawn = func.max(case((e.status == ConsentStatus.WITHDRAWN.value, e.recorded_at)))
    source = CUSTOMERS.join(CONSENTS, e.customer_ref == c.id)
    if profiles is not None:
        source = profiles.join(source, c.profile_id == profiles.c.profile_id)
    return (
        select(c.profile_id, e.purpose, granted.label("granted_at"))
        .select_from(source)
        .where(c.profile_id.is_not(None))
        .group_by(c.profile_id, e.purpose)
        .having(and_(granted.is_not(None), or_(withdrawn.is_(None), granted > withdrawn)))
    )


async def refresh_consents(session: AsyncSession, profiles: Select[Any] | Table) -> None:
    """Recompute, from the ledger, the state of the profiles ``profiles`` names: a select
    of one column of profile ids (NULLs and repeats are fine), or a table of distinct ones
    in a ``profile_id`` column (one the caller staged already). Call it after the change,
    in its transaction. A select is run after the lock is granted, so one that finds the
    profile through a customer record finds where the record is now."""
    await lock_consents(session)
    if isinstance(profiles, Table):
        await _recompute(session, profiles)
        return
    # Staged once: both statements join it, and the planner sees how many there are.
    staged = await staged_ids(session, "consent_profiles", profiles)
    await _recompute(session, staged)
    await drop_staged(session, staged)


async def _recompute(session: AsyncSession, profiles: Table) -> None:
    await session.execute(
        delete(STATE).where(STATE.c.profile_id.in_(select(profiles.c.profile_id)))
    )
    await session.execute(
        insert(STATE).from_select(
            ["profile_id", "purpose", "granted_at"], ledger_consents(profiles)
        )
    )
