"""Streaming readers: a file becomes chunks of string columns with their line numbers.

Nothing is read whole. CSV is parsed by pyarrow in ``chunk_bytes`` blocks,
Parquet by row groups of ``chunk_rows``, NDJSON line by line. Every value
arrives as a string (or null) so that validation, not the reader, decides
what is wrong with it and on which line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from endcap.ingest.csv_reader import csv_chunks, csv_header
from endcap.ingest.ndjson_reader import ndjson_chunks, ndjson_columns
from endcap.ingest.parquet_reader import parquet_chunks, parquet_columns
from endcap.ingest.source import BrokenRow, Chunk, Source, UnreadableFileError

__all__ = [
    "BrokenRow",
    "Chunk",
    "Source",
    "UnreadableFileError",
    "chunks",
    "format_of",
    "open_source",
]

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise UnreadableFileError(f"unknown file type {suffix!r}: use .csv, .parquet or .ndjson")
    return FORMATS[suffix]


def open_source(path: Path, file_format: str) -> Source:
    if path.stat().st_size == 0:
        raise UnreadableFileError("the file is empty")
    if file_format == "csv":
        return Source(path, file_format, csv_header(path))
    if file_format == "parquet":
        return Source(path, file_format, parquet_columns(path))
    return Source(path, file_format, ndjson_columns(path))


def chunks(source: Source, *, chunk_bytes: int, chunk_rows: int) -> Iterator[Chunk]:
    if source.file_format == "csv":
        return csv_chunks(source, chunk_bytes)
    if source.file_format == "parquet":
        return parquet_chunks(source, chunk_rows)
    return ndjson_chunks(source, chunk_rows)
