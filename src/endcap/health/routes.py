from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.middleware import PUBLIC
from endcap.config import Settings
from endcap.health.service import HealthService


class HealthStatus(BaseModel):
    status: str


def provide_health_service(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> HealthService:
    return HealthService(session, timeout=settings.database.connect_timeout + 1)


class HealthController(Controller):
    path = "/health"
    opt = {PUBLIC: True}
    tags = ["health"]
    dependencies = {"health": Provide(provide_health_service, sync_to_thread=False)}

    @get("/live", summary="The process is up")
    async def live(self) -> HealthStatus:
        return HealthStatus(status="ok")

    @get("/ready", summary="The process can serve: the database answers")
    async def ready(self, health: NamedDependency[HealthService]) -> HealthStatus:
        await health.check_database()
        return HealthStatus(status="ready")
