"""Streaming readers: a file becomes chunks of string columns with their line numbers.

Nothing is read whole. CSV is parsed by pyarrow in ``chunk_bytes`` blocks,
Parquet by row groups of ``chunk_rows``, NDJSON line by line. Every value
arrives as a string (or null) so that validation, not the reader, decides
what is wrong with it and on which line.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


class UnreadableFileError(Exception):
    """The file as a whole cannot be read: nothing of it is applied."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


@dataclass(slots=True)
class Chunk:
    table: pa.Table  # string columns only
    lines: np.ndarray  # the file line (CSV, NDJSON) or row (Parquet) of each row


@dataclass(slots=True)
class BrokenRow:
    line: int | None
    reason: str


@dataclass(slots=True)
class Source:
    path: Path
    file_format: str
    columns: list[str]
    broken: list[BrokenRow] = field(default_factory=list)


def format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise UnreadableFileError(f"unknown file type {suffix!r}: use .csv, .parquet or .ndjson")
    return FORMATS[suffix]


def open_source(path: Path, file_format: str) -> Source:
    if path.stat().st_size == 0:
        raise UnreadableFileError("the file is empty")
    if file_format == "csv":
        return Source(path, file_format, _csv_header(path))
    if file_format == "parquet":
        try:
            names = pq.ParquetFile(path).schema_arrow.names
        except (pa.ArrowInvalid, OSError) as exc:
            raise UnreadableFileError(f"not a readable Parquet file ({exc})") from exc
        return Source(path, file_format, list(names))
    return Source(path, file_format, _ndjson_columns(path))


def chunks(source: Source, *, chunk_bytes: int, chunk_rows: int) -> Iterator[Chunk]:
    if source.file_format == "csv":
        return _csv_chunks(source, chunk_bytes)
    if source.file_format == "parquet":
        return _parquet_chunks(source, chunk_rows)
    return _ndjson_chunks(source, chunk_rows)


# -- CSV ---------------------------------------------------------------------------------------


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError("the header is not valid UTF-8", line=1) from exc
    header = next(csv.reader([text]), [])
    names = [h.strip() for h in header]
    if not any(names):
        raise UnreadableFileError("the file has no header row", line=1)
    if len(set(names)) != len(names):
        raise UnreadableFileError("the header names a column twice", line=1)
    return names


def _csv_chunks(source: Source, chunk_bytes: int) -> Iterator[Chunk]:
    def on_broken_row(row: pacsv.InvalidRow) -> str:
        source.broken.append(
            BrokenRow(
                row.number,
                f"has {row.actual_columns} of {row.expected_columns} columns"
                + (" (file cut off?)" if row.actual_columns < row.expected_columns else ""),
            )
        )
        return "skip"

    reader = pacsv.open_csv(
        source.path,
        read_options=pacsv.ReadOptions(block_size=chunk_bytes, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_broken_row),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in source.columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    next_line = 2  # line 1 is the header
    try:
        for batch in reader:
            skipped_before = len(source.broken)
            table = pa.Table.from_batches([batch])
            lines = _lines_after(next_line, table.num_rows, source.broken, skipped_before)
            next_line = int(lines[-1]) + 1 if len(lines) else next_line
            yield Chunk(table, lines)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise UnreadableFileError(
                "the file is not valid UTF-8", line=_first_bad_utf8_line(source.path)
            ) from exc
        raise UnreadableFileError(f"the CSV cannot be parsed ({exc})") from exc


def _lines_after(first: int, count: int, broken: list[BrokenRow], _known: int) -> np.ndarray:
    """File lines of ``count`` good rows starting at ``first``, stepping over broken rows."""
    skip = sorted(b.line for b in broken if b.line is not None and b.line >= first)
    lines = np.arange(first, first + count + len(skip), dtype=np.int64)
    if skip:
        lines = lines[~np.isin(lines, skip)]
    return lines[:count]


def _first_bad_utf8_line(path: Path) -> int:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number
    return 1


# -- Parquet -----------------------------------------------------------------------------------


def _parquet_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    row = 1
    for batch in pq.ParquetFile(source.path).iter_batches(batch_size=chunk_rows):
        columns = {name: _as_strings(batch.column(i)) for i, name in enumerate(batch.schema.names)}
        table = pa.table(columns)
        yield Chunk(table, np.arange(row, row + table.num_rows, dtype=np.int64))
        row += table.num_rows


def _as_strings(array: pa.Array) -> pa.Array:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.string())
    if pa.types.is_timestamp(array.type) and array.type.tz is None:
        array = array.cast(pa.timestamp(array.type.unit, tz="UTC"))
    return array.cast(pa.string())


# -- NDJSON ------------------------------------------------------------------------------------


def _ndjson_columns(path: Path) -> list[str]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                record = _ndjson_record(raw, number)
                return list(record)
    raise UnreadableFileError("the file has no records")


def _ndjson_record(raw: bytes, number: int) -> dict[str, object]:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UnreadableFileError("the file is not valid UTF-8", line=number) from exc
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(f"not a JSON object ({exc.msg})", line=number) from exc
    if not isinstance(record, dict):
        raise UnreadableFileError("each line must be a JSON object", line=number)
    return record


def _ndjson_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    names = source.columns
    values: dict[str, list[str | None]] = {name: [] for name in names}
    lines: list[int] = []
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            record = _ndjson_record(raw, number)
            for name in record.keys() - values.keys():
                values[name] = [None] * len(lines)
            for name, column in values.items():
                value = record.get(name)
                column.append(
                    None
                    if value is None
                    else value
                    if isinstance(value, str)
                    else json.dumps(value)
                )
            lines.append(number)
            if len(lines) >= chunk_rows:
                yield Chunk(pa.table(values), np.asarray(lines, dtype=np.int64))
                values = {name: [] for name in values}
                lines = []
    if lines:
        yield Chunk(pa.table(values), np.asarray(lines, dtype=np.int64))
