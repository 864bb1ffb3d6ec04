"""Property: after any sequence of consent events (over the API and in loads), customer
records moving between profiles (merges, splits, first assignments) and erasures, the
consent state reach and exports read (``profile_consents``) is exactly what the ledger's
rule (:func:`endcap.consent.service.current_state`) says for every profile.

The expectation is computed in Python from a model of the ledger kept beside the
database, never read back from it. Each example writes a few customer records inside a
savepoint, runs its steps through the real writers (the consent service, the ingest
loader, the key-chain moves resolution makes, the erasure service), checks the state
after every step and rolls back. Two purposes and three instants make ties (where the
withdrawal wins) and repeated events common.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings, Settings
from endcap.consent.models import ConsentEvent, ConsentStatus, ProfileConsent, Purpose
from endcap.consent.repository import consented_profiles
from endcap.consent.schemas import ConsentRecord
from endcap.consent.service import ConsentService, current_state
from endcap.identity.models import Customer, Profile
from endcap.identity.repository import IdentityRepository
from endcap.ingest.service import IngestService
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest

PURPOSES = (Purpose.TARGETING_ONSITE, Purpose.EMAIL)
INSTANTS = tuple(datetime(2026, 3, day, 12, tzinfo=UTC) for day in (1, 2, 3))
MAX_CUSTOMERS = 6

Event = tuple[Purpose, ConsentStatus, datetime]


@pytest.fixture
def app_settings(database_settings: DatabaseSettings) -> Settings:
    chosen = Settings()
    chosen.database = database_settings
    return chosen


@dataclass
class Model:
    """What the ledger holds and where each record sits, kept in Python."""

    tag: str
    profile_of: dict[int, int | None]  # customer slot -> profile (None: not resolved yet)
    events: dict[int, set[Event]] = field(default_factory=dict)
    erased: set[int] = field(default_factory=set)
    profiles: set[int] = field(default_factory=set)  # every profile id the example used

    def customer_id(self, slot: int) -> str:
        return f"{self.tag}-{slot}"

    def expected(self) -> dict[tuple[int, str], datetime]:
        """(profile, purpose) -> the grant in force, by the service's own rule."""
        found: dict[tuple[int, str], datetime] = {}
        for profile in {p for s, p in self.profile_of.items() if p is not None}:
            slots = [s for s, p in self.profile_of.items() if p == profile]
            events = [
                ConsentEvent(customer_ref=0, purpose=purpose, status=status, recorded_at=at)
                for s in slots
                for purpose, status, at in self.events.get(s, set())
            ]
            for purpose, latest in current_state(events).items():
                if latest.status == ConsentStatus.GRANTED:
                    found[(profile, purpose.value)] = latest.recorded_at
        return found


# -- steps -------------------------------------------------------------------------------

events = st.tuples(
    st.sampled_from(PURPOSES), st.sampled_from(ConsentStatus), st.sampled_from(INSTANTS)
)


def steps(count: int) -> st.SearchStrategy[tuple[Any, ...]]:
    """One step on ``count`` customer records (slots 0 to count - 1)."""
    slots = st.integers(0, count - 1)
    record_steps = st.tuples(st.just("record"), slots, events)
    load_steps = st.tuples(
        st.just("load"), st.lists(st.tuples(slots, events), min_size=1, max_size=6, unique=True)
    )
    # Records to move, and where: the profile of another slot, or a new profile.
    move_steps = st.tuples(
        st.just("move"), st.sets(slots, min_size=1, max_size=3), st.none() | slots
    )
    erase_steps = st.tuples(st.just("erase"), slots)
    # Erasure ends a person's story, so it comes rarer than the rest.
    return st.one_of(record_steps, record_steps, load_steps, move_steps, move_steps, erase_steps)


async def record(session: AsyncSession, model: Model, slot: int, drawn: Event) -> None:
    purpose, status, at = drawn
    data = ConsentRecord(
        customer_id=model.customer_id(slot), purpose=purpose, status=status, recorded_at=at
    )
    await ConsentService(session).record(data)
    model.events.setdefault(slot, set()).add(drawn)


async def load(
    session: AsyncSession, settings: Settings, model: Model, rows: list[tuple[int, Event]]
) -> None:
    lines = [
        f"{model.customer_id(slot)},{purpose.value},{status.value},{at.isoformat()}"
        for slot, (purpose, status, at) in rows
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "consents.csv"
        path.write_text("customer_id,purpose,status,recorded_at\n" + "\n".join(lines) + "\n")
        report = await IngestService(session, settings).load("consents", path)
    assert report.status == "loaded", report.rejections
    for slot, drawn in rows:
        model.events.setdefault(slot, set()).add(drawn)


async def move(
    session: AsyncSession, model: Model, refs: dict[int, int], moved: set[int], to: int | None
) -> None:
    """As key-chain resolution moves records: new profiles first, then the moves, then the
    profiles left without a record go."""
    identity = IdentityRepository(session)
    target = model.profile_of[to] if to is not None else None
    if target is None:
        target = await identity.next_profile_id()
        await identity.add_profiles(np.array([target], dtype=np.int64))
        model.profiles.add(target)
    moving = sorted(s for s in moved if model.profile_of[s] != target)
    if not moving:
        return
    left = {model.profile_of[s] for s in moving} - {None}
    await identity.move_customers(
        np.array([refs[s] for s in moving], dtype=np.int64),
        np.array([target] * len(moving), dtype=np.int64),
    )
    for s in moving:
        model.profile_of[s] = target
    emptied = [p for p in left if p not in model.profile_of.values()]
    await identity.drop_profiles_without_customers(sorted(emptied))
    event("merge" if emptied else "split or first assignment")


async def erase(session: AsyncSession, settings: Settings, model: Model, slot: int) -> None:
    request = ErasureRequest(customer_id=model.customer_id(slot))
    await ErasureService(session, settings).erase(request, requested_by=None)
    profile = model.profile_of[slot]
    gone = [slot] if profile is None else [s for s, p in model.profile_of.items() if p == profile]
    for s in gone:
        del model.profile_of[s]
        model.events.pop(s, None)
        model.erased.add(s)


async def state_rows(session: AsyncSession, profiles: set[int]) -> dict[tuple[int, str], datetime]:
    query = select(ProfileConsent).where(col(ProfileConsent.profile_id).in_(sorted(profiles)))
    return {(r.profile_id, r.purpose): r.granted_at for r in (await session.exec(query)).all()}


# -- the property ------------------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # each example rolls back its own rows
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_the_state_is_what_the_ledger_says_after_any_writes(
    session: AsyncSession, app_settings: Settings, data: st.DataObject
) -> None:
    count = data.draw(st.integers(2, MAX_CUSTOMERS), label="customers")
    # Records start in a few profiles (some shared, some not resolved yet).
    groups = data.draw(
        st.lists(st.integers(0, 2) | st.none(), min_size=count, max_size=count), label="profiles"
    )
    drawn: list[Any] = data.draw(st.lists(steps(count), min_size=4, max_size=15), label="steps")
    savepoint = await session.begin_nested()
    try:
        first = await IdentityRepository(session).next_profile_id()
        used = sorted({g for g in groups if g is not None})
        session.add_all([Profile(id=first + g) for g in used])
        await session.flush()
        model = Model(
            tag=uuid.uuid4().hex[:8],
            profile_of={s: None if g is None else first + g for s, g in enumerate(groups)},
            profiles={first + g for g in used},
        )
        customers = [
            Customer(customer_id=model.customer_id(s), profile_id=model.profile_of[s])
            for s in range(count)
        ]
        session.add_all(customers)
        await session.flush()
        most = 0
        refs = {s: c.id for s, c in enumerate(customers) if c.id is not None}
        for step in drawn:
            # Each writer runs in a request of its own: no record loaded before a move.
            session.expunge_all()
            kind = step[0]
            if kind == "record" and step[1] in model.profile_of:
                await record(session, model, step[1], step[2])
            elif kind == "load":
                rows = [(s, e) for s, e in step[1] if s in model.profile_of]
                if rows:
                    await load(session, app_settings, model, rows)
            elif kind == "move":
                moved = {s for s in step[1] if s in model.profile_of}
                to = step[2] if step[2] in model.profile_of else None
                if moved:
                    await move(session, model, refs, moved, to)
            elif kind == "erase" and step[1] in model.profile_of:
                await erase(session, app_settings, model, step[1])
            expected = model.expected()
            assert await state_rows(session, model.profiles) == expected, step
            most = max(most, len(expected))
        event(f"at most {min(most, 3)}{'+' if most >= 3 else ''} consented pair(s) at once")
        for purpose in PURPOSES:
            ours = set((await session.execute(consented_profiles(purpose))).scalars())
            assert ours & model.profiles == {p for p, q in expected if q == purpose.value}
    finally:
        await savepoint.rollback()
