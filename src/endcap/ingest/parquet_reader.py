"""Parquet: read by row groups of ``chunk_rows``, every column cast to text, each row
numbered by its place in the file (ingest/readers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from endcap.ingest.source import (
    Chunk,
    Source,
    UnreadableFileError,
)


def parquet_columns(path: Path) -> list[str]:
    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableFileError(f"not a readable Parquet file ({exc})") from exc
    return list(names)


def parquet_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    row = 1
    for batch in pq.ParquetFile(source.path).iter_batches(batch_size=chunk_rows):
        columns = {}
        for index, name in enumerate(batch.schema.names):
            try:
                columns[name] = _as_strings(batch.column(index))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise UnreadableFileError(
                    f"column {name!r} cannot be read as text ({exc})", line=row
                ) from exc
        table = pa.table(columns)
        yield Chunk(table, np.arange(row, row + table.num_rows, dtype=np.int64))
        row += table.num_rows


def _as_strings(array: pa.Array) -> pa.Array:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.string())
    if pa.types.is_timestamp(array.type) and array.type.tz is None:
        array = array.cast(pa.timestamp(array.type.unit, tz="UTC"))
    return array.cast(pa.string())
