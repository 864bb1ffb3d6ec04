"""The booking baseline: bare Litestar answering the marketplace's three calls with the
same JSON Endcap sends (a campaign, the booked campaign, a forecast), no database.

Whatever Endcap's routes cost beyond this is its own stack: key lookup, the
transaction, validation against the catalog, pricing, the capacity update and
the audit trail. Run as the benchmark does::

    python -m uvicorn tests.perf.bare_booking:create_bare_app --factory
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, get, post

from tests.perf.bare_app import static_key_guard

# Filled with one real answer of each kind by the benchmark (ENDCAP_BARE_SAMPLES, a JSON file).
SAMPLES_ENV = "ENDCAP_BARE_SAMPLES"


def _samples() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(os.environ[SAMPLES_ENV]).read_text())
    return loaded


def create_bare_app() -> Litestar:
    samples = _samples()

    @post("/api/v1/campaigns", guards=[static_key_guard], status_code=201)
    async def create(request: Request[Any, Any, Any]) -> dict[str, Any]:
        await request.json()
        return {**samples["campaign"], "id": str(uuid.uuid4())}

    @post("/api/v1/campaigns/{campaign_id:uuid}/book", guards=[static_key_guard], status_code=200)
    async def book(campaign_id: uuid.UUID) -> dict[str, Any]:
        return {**samples["booked"], "id": str(campaign_id)}

    @post("/api/v1/forecasts", guards=[static_key_guard], status_code=200)
    async def forecast(request: Request[Any, Any, Any]) -> dict[str, Any]:
        await request.json()
        return dict(samples["forecast"])

    @get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return Litestar(route_handlers=[create, book, forecast, ready], logging_config=None)
