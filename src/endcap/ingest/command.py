"""`endcap ingest ENTITY FILE`: load one file from the shell, with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from endcap.config import Settings, get_settings
from endcap.db.session import standalone_session
from endcap.errors import EndcapError
from endcap.ingest.contract import LOAD_ORDER
from endcap.ingest.schemas import IngestReport
from endcap.ingest.service import IngestService

console = Console()
SHOWN_REJECTIONS = 50


@click.command(name="ingest")
@click.argument("entity", type=click.Choice(list(LOAD_ORDER)))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ingest_command(entity: str, path: Path) -> None:
    """Load one file (CSV, Parquet or NDJSON, by extension) into ENTITY; all or nothing."""
    try:
        report = asyncio.run(load_file(get_settings(), entity, path, console))
    except EndcapError as exc:
        raise click.ClickException(exc.detail) from exc
    print_report(report, console)
    if report.status != "loaded":
        raise SystemExit(1)


async def load_file(settings: Settings, entity: str, path: Path, out: Console) -> IngestReport:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{path.name} → {entity}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        async with standalone_session(settings.database) as session:
            return await IngestService(session, settings).load(entity, path, progress=progress)


def print_report(report: IngestReport, out: Console) -> None:
    colour = "green" if report.status == "loaded" else "red"
    out.print(
        f"[{colour}]{report.status}[/] {report.source_name} → {report.entity}: "
        f"{report.rows_read} read, {report.rows_inserted} inserted, {report.rows_updated} updated, "
        f"{report.rows_rejected} rejected ({report.chunks} chunks)"
    )
    if report.rows_suppressed:
        out.print(
            f"{report.rows_suppressed} rows of erased shoppers suppressed (their records are"
            " left out, their purchases load without the customer)"
        )
    if report.resolution:
        r = report.resolution
        out.print(
            f"key chains: {r['customers']} customer records → {r['profiles']} profiles "
            f"({r['merges']} merges, {r['splits']} splits, "
            f"{r['shared_identifiers']} shared identifiers flagged)"
        )
    if report.rejections:
        table = Table("line", "column", "reason", title="rejected rows: nothing was applied")
        for row in report.rejections[:SHOWN_REJECTIONS]:
            table.add_row(str(row.line), row.column, row.reason)
        out.print(table)
        if report.rows_rejected > SHOWN_REJECTIONS:
            out.print(
                f"… and {report.rows_rejected - SHOWN_REJECTIONS} more (ingest run {report.id})"
            )
