"""Queries on remembered requests; each runs alone in autocommit, on the request's connection.

They run for every create and book, so they are Core statements built once here, not
ORM work: an ORM flush for one row cost more than the insert itself
(tests/perf/bench_booking).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, select, text, update

from endcap.db.base import table_of
from endcap.db.request_connection import RequestConnection
from endcap.db.types import utcnow
from endcap.idempotency.models import IdempotentRequest

TABLE = table_of(IdempotentRequest)
_THIS_KEY = and_(
    TABLE.c.key_id == bindparam("p_key_id"),
    TABLE.c.idempotency_key == bindparam("p_key"),
)
# A request that never finished (its server died, or its answer could not be recorded)
# leaves its claim "running"; after this long a retry may take the key over and run.
# Far longer than any request may run, so a live request is never taken over.
STALE_AFTER = timedelta(minutes=10)


# One statement on either database (they spell it alike): a key taken already inserts
# nothing, unless its claim went stale unanswered, which it takes over. Text, because
# SQLAlchemy 2.0 compiles a dialect INSERT ... ON CONFLICT afresh on every run (its
# statement cache leaves them out): that cost more Python than the rest of a claim.
_CLAIM = text(
    "INSERT INTO idempotent_requests (key_id, idempotency_key, fingerprint, created_at)"
    " VALUES (:p_key_id, :p_key, :p_fingerprint, :p_created_at)"
    " ON CONFLICT (key_id, idempotency_key) DO UPDATE"
    " SET fingerprint = excluded.fingerprint, created_at = excluded.created_at"
    " WHERE idempotent_requests.status_code IS NULL"
    " AND idempotent_requests.created_at < :p_stale_before"
    " RETURNING key_id"
).bindparams(
    bindparam("p_key_id", type_=TABLE.c.key_id.type),
    bindparam("p_key", type_=TABLE.c.idempotency_key.type),
    bindparam("p_fingerprint", type_=TABLE.c.fingerprint.type),
    bindparam("p_created_at", type_=TABLE.c.created_at.type),
    bindparam("p_stale_before", type_=TABLE.c.created_at.type),
)
_GET = select(TABLE.c.fingerprint, TABLE.c.status_code, TABLE.c.response).where(_THIS_KEY)
_COMPLETE = (
    update(TABLE)
    .where(_THIS_KEY)
    .values(
        status_code=bindparam("p_status"),
        response=bindparam("p_response", type_=TABLE.c.response.type),
    )
)
_FORGET = delete(TABLE).where(_THIS_KEY)


@dataclass(frozen=True, slots=True)
class Remembered:
    fingerprint: str
    status_code: int | None  # None while the first request still runs
    response: Any


class IdempotencyRepository:
    def __init__(self, connections: RequestConnection) -> None:
        """Each statement runs in autocommit on ``connections``: it stands alone, and a
        claim is visible to a concurrent retry before the handler runs."""
        self.connections = connections

    async def claim(self, key_id: uuid.UUID, key: str, fingerprint: str) -> bool:
        """Record a new request as running; False when the key was claimed already
        (the existing record is then read with :meth:`get`)."""
        now = utcnow()
        params = {
            "p_key_id": key_id,
            "p_key": key,
            "p_fingerprint": fingerprint,
            "p_created_at": now,
            "p_stale_before": now - STALE_AFTER,
        }
        async with self.connections.autocommit() as connection:
            claimed = (await connection.execute(_CLAIM, params)).first()
        return claimed is not None

    async def get(self, key_id: uuid.UUID, key: str) -> Remembered | None:
        async with self.connections.autocommit() as connection:
            row = (await connection.execute(_GET, {"p_key_id": key_id, "p_key": key})).first()
        return None if row is None else Remembered(row.fingerprint, row.status_code, row.response)

    async def complete(self, key_id: uuid.UUID, key: str, status_code: int, response: Any) -> None:
        params = {"p_key_id": key_id, "p_key": key, "p_status": status_code, "p_response": response}
        async with self.connections.autocommit() as connection:
            await connection.execute(_COMPLETE, params)

    async def forget(self, key_id: uuid.UUID, key: str) -> None:
        async with self.connections.autocommit() as connection:
            await connection.execute(_FORGET, {"p_key_id": key_id, "p_key": key})
