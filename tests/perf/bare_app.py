"""The baseline: bare Litestar, one "authenticated" route, no database, no telemetry.

``GET /api/v1/partners/{partner_id}`` answers the same JSON shape as Endcap's
``PartnerPublic`` (id, name, kind, created_at) after a guard compares the
``Authorization`` header with one static key. Whatever Endcap's real route
costs beyond this is its own stack: the key lookup, the session and
transaction, the query, validation, telemetry and the request log.

Run it the way the benchmark does::

    python -m uvicorn tests.perf.bare_app:create_bare_app --factory
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler

STATIC_KEY = "bench-static-key"
CREATED_AT = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PartnerOut:
    id: uuid.UUID
    name: str
    kind: str
    created_at: datetime


def static_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    header = connection.headers.get("authorization", "")
    if not hmac.compare_digest(header.encode(), f"Bearer {STATIC_KEY}".encode()):
        raise NotAuthorizedException("bad key")


@get("/api/v1/partners/{partner_id:uuid}", guards=[static_key_guard])
async def read_partner(partner_id: uuid.UUID) -> PartnerOut:
    return PartnerOut(id=partner_id, name="Bench Foods", kind="manufacturer", created_at=CREATED_AT)


@get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


def create_bare_app() -> Litestar:
    return Litestar(route_handlers=[read_partner, ready], logging_config=None)
