"""Idempotency-Keys are remembered for a while (``ENDCAP_IDEMPOTENCY_HOURS``), then
forgotten: a record holds a hash of its request, and an erasure's request names the
shopper erased. The worker forgets the old ones as it goes (a chore, jobs/chores.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.idempotency.models import IdempotentRequest
from endcap.jobs.chores import chore

# How often the worker looks for records to forget.
FORGET_EVERY: Final = timedelta(minutes=10)


def remembered_since(hours: float) -> datetime:
    """The oldest a record may be and still be kept."""
    return utcnow() - timedelta(hours=hours)


async def forget_before(session: AsyncSession, before: datetime) -> int:
    """Delete the records made before ``before`` (an index range on ``created_at``);
    how many. A key forgotten is new again: a retry after that runs anew."""
    done = await session.execute(
        delete(IdempotentRequest).where(col(IdempotentRequest.created_at) < before)
    )
    return int(getattr(done, "rowcount", 0) or 0)


@chore("forget-idempotency-keys", every=FORGET_EVERY)
async def forget_expired(sessions: SessionFactory, settings: Settings) -> int:
    """Forget the Idempotency-Keys older than ``ENDCAP_IDEMPOTENCY_HOURS``; how many."""
    async with sessions() as session:
        forgotten = await forget_before(
            session, remembered_since(settings.server.idempotency_hours)
        )
        await session.commit()
    return forgotten
