"""Erased shoppers stay erased: what a file brings of them again is left out of the load.

Erasure puts each erased customer id on a suppression list, as its SHA-256
(privacy/models.py ``ErasedCustomer``). The retailer's next export may still hold
them; a load then drops their customer, identifier and consent rows, and loads their
purchases without the customer id, anonymous, as erasure left them. The run counts them
(``rows_suppressed``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Table, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.base import table_of
from endcap.db.hashing import Sha256Hex, enable_sha256
from endcap.privacy.models import ErasedCustomer

DROPPED = frozenset({"customers", "identifiers", "consents"})
ANONYMISED = frozenset({"transactions"})
ERASED = table_of(ErasedCustomer)


async def suppress_erased(session: AsyncSession, stage: Table, entity: str) -> int:
    """Leave erased customers out of the staged rows; how many rows that touched."""
    if entity not in DROPPED | ANONYMISED:
        return 0
    # Most retailers' lists are short or empty: no hashing of a whole file for nothing.
    if (await session.execute(select(ERASED.c.key_hash).limit(1))).first() is None:
        return 0
    await enable_sha256(await session.connection())
    erased = Sha256Hex(stage.c.customer_id).in_(select(ERASED.c.key_hash))
    statement = (
        delete(stage).where(erased)
        if entity in DROPPED
        else update(stage).where(erased).values(customer_id=None)
    )
    result: CursorResult[Any] = await session.execute(statement)  # type: ignore[assignment]
    return int(result.rowcount or 0)
