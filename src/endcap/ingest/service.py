"""Loading one file of the data contract: stream, check, stage, apply — all or nothing.

A file with any rejected row changes nothing; its report names every bad row
(line, column, reason) up to the cap, and counts them all. Loads of the same
entity wait for each other. Loading customers or identifiers re-resolves key
chains in the same transaction.
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import Settings
from endcap.db.bulk import batch_memory
from endcap.db.types import utcnow
from endcap.errors import InvalidRequestError
from endcap.identity.resolution import resolve
from endcap.ingest import checks
from endcap.ingest.apply import apply
from endcap.ingest.contract import ENTITIES, EntitySpec, looks_like_contact_data
from endcap.ingest.models import IngestRun
from endcap.ingest.prepare import prepare
from endcap.ingest.readers import Source, UnreadableFileError, chunks, format_of, open_source
from endcap.ingest.repository import IngestRepository
from endcap.ingest.schemas import IngestReport, RejectedRow
from endcap.ingest.staging import StagingArea
from endcap.ingest.suppress import DROPPED, suppress_erased
from endcap.ingest.validate import Rejection, check_chunk

log = logging.getLogger("endcap.ingest")
Progress = Callable[[int, int | None], None]
RESOLVES_IDENTITY = {"customers", "identifiers"}
FOLLOWS_PROFILES = {"transactions"}


@dataclass(slots=True)
class Rejections:
    """What a load rejects: ``total`` rows (a row with three bad values is one), and the
    first ``cap`` reasons (a row may give several)."""

    cap: int
    total: int = 0
    kept: list[Rejection] = field(default_factory=list)

    def add(self, found: list[Rejection], rows: int | None = None) -> None:
        """``found``: reasons; ``rows``: how many rows they reject (by default, their
        distinct lines)."""
        self.total += len({r.line for r in found}) if rows is None else rows
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept.extend(found[:room])


# ingest_runs.source_name's width.
MAX_SOURCE_NAME = 300


def stored_name(name: str) -> str:
    """The file's name as its run records it: a longer one is cut in the middle, keeping
    its type (a 400-character name failed the whole load on PostgreSQL)."""
    if len(name) <= MAX_SOURCE_NAME:
        return name
    suffix = Path(name).suffix[:16]
    return name[: MAX_SOURCE_NAME - len(suffix) - 3] + "..." + suffix


def entity_spec(entity: str) -> EntitySpec:
    if entity not in ENTITIES:
        raise InvalidRequestError(
            f"unknown entity {entity!r}; one of {', '.join(ENTITIES)}",
            errors=[{"field": "entity", "message": "unknown entity"}],
        )
    return ENTITIES[entity]


class IngestService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.runs = IngestRepository(session)

    async def recorded(self, job_id: uuid.UUID) -> IngestReport | None:
        """The report of the load job ``job_id`` committed, if it did (the load and its
        report commit together); the key-chain resolution is not kept, so it is None."""
        run = await self.runs.by_job(job_id)
        return None if run is None else report_of(run)

    async def load(
        self,
        entity: str,
        path: Path,
        *,
        source_name: str | None = None,
        progress: Progress | None = None,
        job_id: Any = None,
    ) -> IngestReport:
        """Load ``path`` into ``entity``. The caller commits; on a rejected file only the
        report is written. Raises InvalidRequestError for an unknown entity or file type."""
        spec = entity_spec(entity)
        name = stored_name(source_name or path.name)
        try:
            file_format = format_of(name)
        except UnreadableFileError as exc:
            raise InvalidRequestError(
                exc.reason, errors=[{"field": "file", "message": exc.reason}]
            ) from exc
        run = IngestRun(
            entity=entity,
            source_name=name,
            file_format=file_format,
            status="running",
            job_id=job_id,
        )
        await self.runs.lock(f"ingest:{entity}")
        await batch_memory(self.session, self.settings.database.batch_work_mem_mb)
        rejections = Rejections(self.settings.ingest.rejection_cap)
        resolution: dict[str, Any] | None = None
        stage = StagingArea(self.session, spec)
        try:
            source = open_source(path, file_format)
            self._check_columns(spec, source)
            await stage.create()
            await self._stage(spec, source, stage, run, rejections, progress)
            run.rows_suppressed = await suppress_erased(self.session, stage.table, entity)
            if entity in DROPPED:
                stage.rows -= run.rows_suppressed
            # Also when rows were rejected already: the rows that passed are checked as a
            # set too, so one report names every kind of fault (no second round of fixes).
            await stage.analyze()
            found = await self._set_checks(spec, stage)
            if found:
                table = stage.table
                rows = await checks.rejected_rows(self.session, table, spec.name, spec.key)
                rejections.add(found, rows)
            if rejections.total == 0:
                if entity in FOLLOWS_PROFILES:
                    # Lines take their customer's profile: not while key chains are re-resolved.
                    await self.runs.lock("identity")
                applied = await apply(self.session, entity, stage.table, stage.rows)
                run.rows_inserted, run.rows_updated = applied.inserted, applied.updated
                if entity in RESOLVES_IDENTITY:
                    await self.runs.lock("identity")
                    report = await resolve(
                        self.session,
                        shared_threshold=self.settings.identity.shared_identifier_threshold,
                    )
                    resolution = report.as_dict()
        except UnreadableFileError as exc:
            rejections.add([Rejection(exc.line or 0, "file", exc.reason)])
        # On any other error the caller rolls back, and the temporary table goes with it.
        await stage.drop()
        run.rows_rejected = rejections.total
        run.rejections = [
            r.as_dict() for r in sorted(rejections.kept, key=lambda r: (r.line, r.column))
        ]
        run.status = "rejected" if rejections.total else "loaded"
        if rejections.total:
            run.rows_inserted = run.rows_updated = 0
        run.finished_at = utcnow()
        await self.runs.add(run)
        log.info(
            "load of %s %s: %s",
            entity,
            run.id,
            run.status,
            extra={"rows": run.rows_read, "rejected": run.rows_rejected},
        )
        return report_of(run, resolution)

    def _check_columns(self, spec: EntitySpec, source: Source) -> None:
        line = 1 if source.file_format == "csv" else None
        if any(not name.strip() for name in source.columns):
            # It would become an attribute named "" (or " "), which nothing can address.
            raise UnreadableFileError("a column has no name: name every column", line=line)
        controlled = [name for name in source.columns if _has_control(name)]
        if controlled:
            # PostgreSQL cannot store a NUL in an attribute's name (the load failed on a raw
            # database error), and no other control character names a column anyone means.
            # Named escaped (ascii), so that the report can be stored.
            raise UnreadableFileError(
                "column name(s) "
                + ", ".join(ascii(name) for name in controlled)
                + " hold a control character: name columns in plain text",
                line=line,
            )
        missing = [name for name in spec.required if name not in source.columns]
        if missing:
            raise UnreadableFileError(
                f"missing required column(s): {', '.join(missing)}", line=line
            )
        if spec.keeps_attributes:
            contact = [
                c for c in source.columns if c not in spec.names and looks_like_contact_data(c)
            ]
            if contact:
                raise UnreadableFileError(
                    f"column(s) {', '.join(contact)} look like contact data, which is never kept "
                    "raw: load e-mails and phones as identifiers (they are hashed there)",
                    line=line,
                )

    async def _stage(
        self,
        spec: EntitySpec,
        source: Source,
        stage: StagingArea,
        run: IngestRun,
        rejections: Rejections,
        progress: Progress | None,
    ) -> None:
        ingest = self.settings.ingest
        size = source.path.stat().st_size
        estimate: int | None = None
        for chunk in chunks(source, chunk_bytes=ingest.chunk_bytes, chunk_rows=ingest.chunk_rows):
            run.chunks += 1
            run.rows_read += chunk.table.num_rows
            checked = check_chunk(
                spec, chunk.table, chunk.lines, allow_returns=ingest.allow_returns
            )
            staged = prepare(spec, chunk.table, checked, chunk.lines, self.settings.identity)
            rejections.add(staged.rejections)
            # The rows that passed are staged even in a bad file, for the set-based checks.
            await stage.add(staged.table)
            if progress is not None:
                if estimate is None and chunk.table.num_rows:
                    estimate = max(
                        int(size / max(chunk.table.nbytes, 1) * chunk.table.num_rows), run.rows_read
                    )
                progress(run.rows_read, max(estimate or 0, run.rows_read))
        broken = [Rejection(b.line or 0, "row", b.reason) for b in source.broken]
        rejections.add(broken, rows=source.broken_total)
        run.rows_read += source.broken_total

    async def _set_checks(self, spec: EntitySpec, stage: StagingArea) -> list[Rejection]:
        """The first reasons of the set-based checks: repeated keys, unknown references."""
        cap = self.settings.ingest.rejection_cap
        repeated = await checks.duplicates(self.session, stage.table, spec.key, cap)
        unknown = await checks.unknown_references(self.session, stage.table, spec.name, cap)
        return repeated + unknown


def report_of(run: IngestRun, resolution: dict[str, Any] | None = None) -> IngestReport:
    return IngestReport(
        id=run.id,
        entity=run.entity,
        source_name=run.source_name,
        file_format=run.file_format,
        status=run.status,
        rows_read=run.rows_read,
        rows_inserted=run.rows_inserted,
        rows_updated=run.rows_updated,
        rows_rejected=run.rows_rejected,
        rows_suppressed=run.rows_suppressed,
        chunks=run.chunks,
        rejections=[RejectedRow(**r) for r in run.rejections],
        error=run.error,
        resolution=resolution,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def _has_control(name: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in name)
