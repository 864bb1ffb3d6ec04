"""Idempotency-Keys are remembered for a while (``ENDCAP_IDEMPOTENCY_HOURS``), then
forgotten: a record holds a hash of its request, and an erasure's request names the
shopper erased. The worker forgets the old ones as it goes (jobs/worker.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.types import utcnow
from endcap.idempotency.models import IdempotentRequest

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
