"""Uploads of data-contract files (run as jobs) and their kept reports. Retailer admin only."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.config import Settings, get_settings
from endcap.errors import InvalidRequestError
from endcap.idempotency import IDEMPOTENT_UPLOAD
from endcap.ingest.readers import UnreadableFileError, format_of
from endcap.ingest.reports import IngestReports
from endcap.ingest.schemas import IngestReport
from endcap.ingest.service import entity_spec
from endcap.ingest.uploads import spool, the_file
from endcap.jobs.schemas import JobPublic
from endcap.jobs.service import JobService
from endcap.pagination import DEFAULT_PAGE_SIZE, Limit, Page, PageRequest

# The whole form: the route checks it holds one file and nothing else (uploads.the_file).
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def provide_jobs(session: NamedDependency[AsyncSession]) -> JobService:
    return JobService(session)


class IngestController(Controller):
    path = "/ingest"
    tags = ["ingest"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"jobs": Provide(provide_jobs, sync_to_thread=False)}

    @post(
        "/{entity:str}",
        status_code=202,
        summary="Upload one file (CSV, Parquet or NDJSON) of an entity; it loads as a job",
        request_max_body_size=get_settings().ingest.max_upload_bytes,
        opt=IDEMPOTENT_UPLOAD,
    )
    async def upload(
        self,
        entity: FromPath[str],
        data: Form,
        jobs: NamedDependency[JobService],
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
    ) -> JobPublic:
        entity_spec(entity)
        upload = the_file(data)
        name = upload.filename or "upload"
        try:
            format_of(name)
        except UnreadableFileError as exc:
            raise InvalidRequestError(
                exc.reason, errors=[{"field": "file", "message": exc.reason}]
            ) from exc
        path = await spool(
            upload, Path(settings.ingest.spool_dir), settings.ingest.max_upload_bytes
        )
        params = {"entity": entity, "path": str(path), "source_name": name}
        return await jobs.enqueue("ingest", params, principal.key_id)

    @get("/runs", summary="Past loads, newest last, with their reports")
    async def runs(
        self,
        session: NamedDependency[AsyncSession],
        entity: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[IngestReport]:
        return await IngestReports(session).list(PageRequest.parse(limit, cursor), entity)

    @get("/runs/{run_id:uuid}", summary="One load's report: counts and rejected rows")
    async def run(
        self, run_id: FromPath[uuid.UUID], session: NamedDependency[AsyncSession]
    ) -> IngestReport:
        return await IngestReports(session).get(run_id)


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]
    opt = roles(Role.RETAILER_ADMIN)
    dependencies = {"jobs": Provide(provide_jobs, sync_to_thread=False)}

    @get("/{job_id:uuid}", summary="A job's status and progress")
    async def read(
        self, job_id: FromPath[uuid.UUID], jobs: NamedDependency[JobService]
    ) -> JobPublic:
        return await jobs.get(job_id)

    @get("/", summary="Jobs, oldest first")
    async def list_jobs(
        self,
        jobs: NamedDependency[JobService],
        kind: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
    ) -> Page[JobPublic]:
        return await jobs.list(PageRequest.parse(limit, cursor), kind)
