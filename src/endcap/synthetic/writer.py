"""Chunked, deterministic file writers: CSV, Parquet and NDJSON.

Tables arrive block by block; each writer appends them to one file with the
column order it was opened with. Dictionary-encoded columns (how the
generator shares strings between lines) are written as plain values.

CSV is written without quoting, so every text value is checked first: none
may contain a comma, a double quote or a line break (generated values never
do; the check turns a future mistake into an error instead of a broken file).
Parquet row groups are about ``ROW_GROUP_ROWS`` rows; NDJSON lines are built
with Arrow string kernels and written straight from the Arrow buffer.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

Format = Literal["csv", "parquet", "ndjson"]
FORMATS: tuple[Format, ...] = ("csv", "parquet", "ndjson")
ROW_GROUP_ROWS = 500_000
_NDJSON_SLICE = 250_000
_CSV_UNSAFE = r'[,"\r\n]'
_JSON_UNSAFE = r"[\x00-\x1f]"


def _text_arrays(table: pa.Table) -> list[pa.Array]:
    """Every distinct string array of the table (dictionaries rather than their rows)."""
    out: list[pa.Array] = []
    for column in table.columns:
        for chunk in column.chunks:
            if pa.types.is_dictionary(chunk.type):
                out.append(chunk.dictionary)
            elif pa.types.is_string(chunk.type):
                out.append(chunk)
    return out


def _refuse(table: pa.Table, pattern: str, what: str) -> None:
    for arr in _text_arrays(table):
        if len(arr) and pc.any(pc.match_substring_regex(arr, pattern)).as_py():
            raise ValueError(f"a generated text value contains {what}")


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded to their value type."""
    cols = [
        c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns
    ]
    return pa.table(cols, names=table.column_names)


def _json_values(arr: pa.Array) -> pa.Array:
    """Each value as JSON text (strings quoted and escaped; nulls as ``null``)."""
    if pa.types.is_dictionary(arr.type):
        out = pc.take(_json_values(arr.dictionary), arr.indices)
    elif pa.types.is_string(arr.type):
        escaped = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
        out = pc.binary_join_element_wise('"', escaped, '"', "")
    elif pa.types.is_boolean(arr.type):
        out = pc.if_else(arr, "true", "false")
    else:
        out = pc.cast(arr, pa.string())
    filled: pa.Array = pc.fill_null(out, "null")
    return filled


class TableWriter:
    """Appends tables to ``path`` in ``fmt``, keeping ``columns`` in that order."""

    def __init__(self, path: Path, fmt: Format, columns: tuple[str, ...]) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.path = path
        self.fmt = fmt
        self.columns = columns
        self.rows = 0
        self._sink: pa.NativeFile | None = None
        self._csv: pa_csv.CSVWriter | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, table: pa.Table) -> None:
        if self._closed:
            raise ValueError(f"{self.path.name} is closed")
        table = table.select(list(self.columns))
        self.rows += table.num_rows
        if self.fmt == "csv":
            self._write_csv(table)
        elif self.fmt == "parquet":
            self._pending.append(_plain(table))
            self._pending_rows += table.num_rows
            if self._pending_rows >= ROW_GROUP_ROWS:
                self._flush_parquet()
        else:
            self._write_ndjson(table)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.fmt == "parquet":
            self._flush_parquet(final=True)
            if self._parquet is not None:
                self._parquet.close()
        if self._csv is not None:
            self._csv.close()
        if self.fmt != "parquet":
            self._open_sink().close()  # (CSV: a file with only the header if nothing came)

    def _open_sink(self) -> pa.NativeFile:
        if self._sink is None:
            self._sink = pa.OSFile(str(self.path), "wb")
            if self.fmt == "csv":
                self._sink.write((",".join(self.columns) + "\n").encode())
        return self._sink

    def _write_csv(self, table: pa.Table) -> None:
        _refuse(table, _CSV_UNSAFE, "a comma, a double quote or a line break")
        table = _plain(table)
        if self._csv is None:
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            self._csv = pa_csv.CSVWriter(self._open_sink(), table.schema, write_options=options)
        self._csv.write_table(table)

    def _flush_parquet(self, *, final: bool = False) -> None:
        """Write what is pending as row groups (an empty table too, when closing a file
        that got no rows: the file still carries its schema)."""
        if not self._pending:
            return
        if self._pending_rows == 0 and (not final or self._parquet is not None):
            self._pending = []
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(
                str(self.path), table.schema, compression="zstd", store_schema=False
            )
        self._parquet.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def _write_ndjson(self, table: pa.Table) -> None:
        _refuse(table, _JSON_UNSAFE, "a control character")
        sink = self._open_sink()
        for start in range(0, table.num_rows, _NDJSON_SLICE):
            part = table.slice(start, _NDJSON_SLICE).combine_chunks()
            pieces: list[pa.Array | str] = []
            for i, name in enumerate(self.columns):
                pieces.append(("{" if i == 0 else ",") + f'"{name}":')
                pieces.append(_json_values(part.column(i).chunk(0)))
            pieces.append("}\n")
            lines = pc.binary_join_element_wise(*pieces, "")
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
            lo, hi = offsets[lines.offset], offsets[lines.offset + len(lines)]
            sink.write(memoryview(lines.buffers()[2])[lo:hi])
