"""Audiences for the retailer (exact), and the audience catalog for everyone (rounded)."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.catalog import AudienceCatalog
from endcap.audiences.models import AudienceStatus
from endcap.audiences.schemas import (
    AudienceCreate,
    AudiencePublic,
    AudienceUpdate,
    CatalogEntry,
    Overlap,
    RuleEstimate,
    SizeEstimate,
)
from endcap.audiences.service import AudienceService
from endcap.auth.guards import roles
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.concurrency import IfMatch, parse_if_match, tagged
from endcap.config import Settings
from endcap.idempotency import IDEMPOTENT
from endcap.jobs.schemas import JobPublic
from endcap.pagination import DEFAULT_PAGE_SIZE, Limit, Page, PageRequest
from endcap.privacy.channels import Channel
from endcap.privacy.sizes import SizeBand


def provide_audiences(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> AudienceService:
    return AudienceService(session, settings.privacy_gate, settings.marketplace.currency)


def provide_catalog(
    session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> AudienceCatalog:
    return AudienceCatalog(session, settings.privacy_gate)


class AudienceController(Controller):
    path = "/audiences"
    tags = ["audiences"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"audiences": Provide(provide_audiences, sync_to_thread=False)}

    @post(
        "/estimate",
        status_code=200,
        summary="Size a rule before saving it (on the estimate sample, or exact)",
    )
    async def estimate(
        self, data: JSONBody[RuleEstimate], audiences: NamedDependency[AudienceService]
    ) -> SizeEstimate:
        found = await audiences.estimate(data.rule, exact=data.exact)
        return SizeEstimate.model_validate(found, from_attributes=True)

    @post(
        "/",
        summary="Create an audience from a rule (a draft until refreshed and published)",
        opt=IDEMPOTENT,
    )
    async def create(
        self, data: JSONBody[AudienceCreate], audiences: NamedDependency[AudienceService]
    ) -> Response[AudiencePublic]:
        return tagged(await audiences.create(data), 201)

    @get("/", summary="Audiences of a status (?status=deleted too); by default all but deleted")
    async def list_audiences(
        self,
        audiences: NamedDependency[AudienceService],
        status: FromQuery[AudienceStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[AudiencePublic]:
        return await audiences.list(PageRequest.parse(limit, cursor), status)

    @get("/{audience_id:uuid}", summary="One audience, with its current version's exact counts")
    async def read(
        self, audience_id: FromPath[uuid.UUID], audiences: NamedDependency[AudienceService]
    ) -> Response[AudiencePublic]:
        return tagged(await audiences.get(audience_id))

    @patch("/{audience_id:uuid}", summary="Change name, description or rule; needs If-Match")
    async def update(
        self,
        audience_id: FromPath[uuid.UUID],
        data: JSONBody[AudienceUpdate],
        audiences: NamedDependency[AudienceService],
        if_match: IfMatch = None,
    ) -> Response[AudiencePublic]:
        return tagged(await audiences.update(audience_id, data, if_match=parse_if_match(if_match)))

    @post(
        "/{audience_id:uuid}/refresh",
        status_code=202,
        summary="Recompute the members as a new version (a job); If-Match optional",
        opt=IDEMPOTENT,
    )
    async def refresh(
        self,
        audience_id: FromPath[uuid.UUID],
        audiences: NamedDependency[AudienceService],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> JobPublic:
        # The answer is the job, with no ETag: the audience's next one is in its result.
        return await audiences.queue_refresh(
            audience_id, if_match=parse_if_match(if_match), requested_by=principal.key_id
        )

    @post(
        "/{audience_id:uuid}/publish",
        status_code=200,
        summary="Publish to the brand catalog (privacy gate); If-Match optional",
    )
    async def publish(
        self,
        audience_id: FromPath[uuid.UUID],
        audiences: NamedDependency[AudienceService],
        if_match: IfMatch = None,
    ) -> Response[AudiencePublic]:
        return tagged(await audiences.publish(audience_id, if_match=parse_if_match(if_match)))

    @delete(
        "/{audience_id:uuid}",
        status_code=200,
        summary="Delete (leaves the catalog; pinned versions stay); If-Match optional",
    )
    async def remove(
        self,
        audience_id: FromPath[uuid.UUID],
        audiences: NamedDependency[AudienceService],
        if_match: IfMatch = None,
    ) -> Response[AudiencePublic]:
        return tagged(await audiences.delete(audience_id, if_match=parse_if_match(if_match)))


class AudienceCatalogController(Controller):
    path = "/catalog/audiences"
    tags = ["catalog"]
    opt = roles(*Role)
    dependencies = {"catalog": Provide(provide_catalog, sync_to_thread=False)}

    @get("/", summary="Published audiences: rounded size and reach per consented channel")
    async def entries(
        self,
        catalog: NamedDependency[AudienceCatalog],
        channel: FromQuery[Channel | None] = None,
        size_band: FromQuery[SizeBand | None] = None,
        category: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[CatalogEntry]:
        page = PageRequest.parse(limit, cursor)
        return await catalog.entries(page, channel=channel, band=size_band, category=category)

    @get("/{audience_id:uuid}", summary="One published audience")
    async def entry(
        self, audience_id: FromPath[uuid.UUID], catalog: NamedDependency[AudienceCatalog]
    ) -> CatalogEntry:
        return await catalog.entry(audience_id)

    @get(
        "/{audience_id:uuid}/overlap/{other_id:uuid}",
        summary="Profiles in both, rounded; hidden below the minimum",
    )
    async def overlap(
        self,
        audience_id: FromPath[uuid.UUID],
        other_id: FromPath[uuid.UUID],
        catalog: NamedDependency[AudienceCatalog],
    ) -> Overlap:
        return await catalog.overlap(audience_id, other_id)
