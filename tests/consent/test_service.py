"""The consent ledger: append-only, state derived per profile and purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings, Settings
from endcap.consent.models import ConsentStatus, Purpose
from endcap.consent.schemas import ConsentRecord
from endcap.consent.service import ConsentService
from endcap.db.types import CLOCK_LEEWAY
from endcap.errors import InvalidRequestError, NotFoundError
from tests.support.retailer import load_tiny, profile_of


@pytest.fixture
def settings(database_settings: DatabaseSettings) -> Settings:
    chosen = Settings()
    chosen.database = database_settings
    return chosen


async def test_state_is_the_latest_event_across_the_persons_records(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    profile = await profile_of(session, shop.id("c1"))  # c1 and c2 are one person

    state = {p.purpose: p for p in (await ConsentService(session).state(profile)).purposes}

    # c1 granted e-mail and c2 withdrew it at the same instant: withdrawal wins a tie.
    assert state[Purpose.EMAIL].granted is False
    assert state[Purpose.EMAIL].status is ConsentStatus.WITHDRAWN
    assert state[Purpose.MEASUREMENT].granted is True
    assert state[Purpose.TARGETING_ONSITE].status is None  # never asked: not granted
    assert state[Purpose.TARGETING_ONSITE].granted is False


async def test_a_later_grant_reopens_and_the_ledger_keeps_everything(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    service = ConsentService(session)
    later = datetime(2026, 3, 1, tzinfo=UTC)
    record = ConsentRecord(
        customer_id=shop.id("c1"),
        purpose=Purpose.EMAIL,
        status=ConsentStatus.GRANTED,
        recorded_at=later,
    )

    await service.record(record)
    await service.record(record)  # the same event twice is one event

    state = await service.state(await profile_of(session, shop.id("c1")))
    email = next(p for p in state.purposes if p.purpose is Purpose.EMAIL)
    assert email.granted is True
    assert email.recorded_at == later
    assert len([e for e in state.ledger if e.purpose is Purpose.EMAIL]) == 3
    count = await session.scalar(
        text(
            "SELECT count(*) FROM consent_events e"
            " JOIN customers c ON c.id = e.customer_ref WHERE c.customer_id = :c"
        ),
        {"c": shop.id("c1")},
    )
    assert count == 2


async def test_unknown_customer_or_profile_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError):
        await ConsentService(session).record(
            ConsentRecord(customer_id="nobody", purpose=Purpose.EMAIL, status=ConsentStatus.GRANTED)
        )
    with pytest.raises(NotFoundError):
        await ConsentService(session).state(987654321)


async def test_a_decision_dated_in_the_future_is_refused_and_cannot_block_withdrawal(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    service = ConsentService(session)
    profile = await profile_of(session, shop.id("c1"))
    before = {p.purpose: p for p in (await service.state(profile)).purposes}

    naive = datetime(9999, 12, 31)  # noqa: DTZ001 - no offset, as a client may send it
    for when in (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), naive):
        grant = ConsentRecord(
            customer_id=shop.id("c1"),
            purpose=Purpose.MEASUREMENT,
            status=ConsentStatus.GRANTED,
            recorded_at=when,
        )
        with pytest.raises(InvalidRequestError, match="in the future") as refused:
            await service.record(grant)
        assert refused.value.extra["errors"][0]["field"] == "/recorded_at"

    # Nothing was stored: a withdrawal now is the latest decision and holds.
    await service.record(
        ConsentRecord(
            customer_id=shop.id("c1"), purpose=Purpose.MEASUREMENT, status=ConsentStatus.WITHDRAWN
        )
    )
    after = {p.purpose: p for p in (await service.state(profile)).purposes}
    assert before[Purpose.MEASUREMENT].granted is True
    assert after[Purpose.MEASUREMENT].granted is False
    # Within the clock leeway a decision is taken as sent.
    soon = datetime.now(UTC) + CLOCK_LEEWAY / 2
    await service.record(
        ConsentRecord(
            customer_id=shop.id("c1"),
            purpose=Purpose.MEASUREMENT,
            status=ConsentStatus.GRANTED,
            recorded_at=soon,
        )
    )
    latest = {p.purpose: p for p in (await service.state(profile)).purposes}
    assert latest[Purpose.MEASUREMENT].granted is True


async def test_a_decision_with_an_offset_is_answered_in_utc(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    stockholm = timezone(timedelta(hours=1))
    recorded = await ConsentService(session).record(
        ConsentRecord(
            customer_id=shop.id("c1"),
            purpose=Purpose.EMAIL,
            status=ConsentStatus.GRANTED,
            recorded_at=datetime(2026, 3, 1, 5, 0, tzinfo=stockholm),
        )
    )
    assert recorded.recorded_at == datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    assert recorded.recorded_at.utcoffset() == timedelta(0)
