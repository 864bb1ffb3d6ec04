"""``endcap generate``: the synthetic retailer as a command, with a progress bar
per file and a summary table at the end."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from endcap.synthetic.generate import GenerationSummary, generate
from endcap.synthetic.writer import FORMATS, Format


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def summary_table(summary: GenerationSummary) -> Table:
    table = Table(
        title=(
            f"{summary.profiles:,} profiles, seed {summary.seed}, {summary.weeks} weeks, "
            f"{summary.fmt} in {summary.outdir}"
        )
    )
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("size", justify="right")
    for f in summary.files:
        table.add_row(f.path.name, f"{f.rows:,}", _size(f.bytes))
    lines = summary.rows["transactions"]
    table.add_section()
    table.add_row(
        f"total ({summary.seconds:,.1f} s, {lines / max(summary.seconds, 1e-9):,.0f} lines/s)",
        f"{sum(summary.rows.values()):,}",
        _size(summary.total_bytes),
    )
    return table


@click.command(name="generate")
@click.option("--profiles", type=click.IntRange(min=1), required=True, help="people to simulate")
@click.option("--seed", type=click.IntRange(min=0), required=True, help="random seed")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="file format",
)
@click.option(
    "--weeks", type=click.IntRange(1, 520), default=52, show_default=True, help="weeks of history"
)
@click.option(
    "--lines-per-profile-year",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="transaction lines per profile per year",
)
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
def generate_command(
    profiles: int, seed: int, fmt: Format, weeks: int, lines_per_profile_year: float, outdir: Path
) -> None:
    """Write a synthetic retailer (products, stores, customers, identifiers,
    consents, transactions) into OUTDIR, following the retailer data contract.
    The same arguments always give byte-identical files."""
    console = Console()
    columns = (
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bars:
        tasks: dict[str, TaskID] = {}

        def report(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total)
            bars.update(tasks[name], completed=done, total=total)

        summary = generate(
            outdir,
            profiles,
            seed,
            fmt=fmt,
            weeks=weeks,
            lines_per_profile_year=lines_per_profile_year,
            progress=report,
        )
    console.print(summary_table(summary))
