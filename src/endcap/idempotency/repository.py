"""Queries on remembered requests; each runs in its own short transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from endcap.db.engine import SessionFactory
from endcap.idempotency.models import IdempotentRequest


class IdempotencyRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    async def claim(
        self, key_id: uuid.UUID, key: str, fingerprint: str
    ) -> IdempotentRequest | None:
        """Record a new request as running; None when the key was claimed already
        (the existing record is then read with :meth:`get`)."""
        async with self.sessions() as session:
            session.add(
                IdempotentRequest(key_id=key_id, idempotency_key=key, fingerprint=fingerprint)
            )
            try:
                await session.commit()
            except IntegrityError:
                return None
        return IdempotentRequest(key_id=key_id, idempotency_key=key, fingerprint=fingerprint)

    async def get(self, key_id: uuid.UUID, key: str) -> IdempotentRequest | None:
        async with self.sessions() as session:
            return await session.get(IdempotentRequest, (key_id, key))

    async def complete(self, key_id: uuid.UUID, key: str, status_code: int, response: Any) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(IdempotentRequest)
                .where(
                    col(IdempotentRequest.key_id) == key_id,
                    col(IdempotentRequest.idempotency_key) == key,
                )
                .values(status_code=status_code, response=response)
            )
            await session.commit()

    async def forget(self, key_id: uuid.UUID, key: str) -> None:
        async with self.sessions() as session:
            await session.execute(
                delete(IdempotentRequest).where(
                    col(IdempotentRequest.key_id) == key_id,
                    col(IdempotentRequest.idempotency_key) == key,
                )
            )
            await session.commit()
