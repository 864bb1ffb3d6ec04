"""CSV: parsed by pyarrow in ``chunk_bytes`` blocks, each row with the line it starts on,
and each row Arrow cannot read a broken row naming its line (ingest/readers.py)."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from endcap.ingest.source import (
    BOM,
    BOM_LATER,
    LINE_BREAK,
    BrokenRow,
    Chunk,
    Source,
    UnreadableFileError,
    text_lines,
)

# The header is read up to its line feed, but no further than this: a file without one
# (CR line ends, or not CSV at all) is not read whole to find it.
_HEADER_BYTES = 1024 * 1024


def csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline(_HEADER_BYTES)
    if b"\r" in first.removesuffix(b"\n").removesuffix(b"\r"):
        # An old Mac file: the header is read up to a line feed, which such a file does not
        # have (a lone CR later in a file is a line end like any other).
        raise UnreadableFileError(
            "line endings are bare CR (old Mac style): save the file with LF or CRLF line ends",
            line=1,
        )
    if not first.endswith(b"\n") and len(first) == _HEADER_BYTES:
        raise UnreadableFileError(
            f"the header row is longer than {_HEADER_BYTES:,} bytes (no line end found):"
            " is this a CSV file?",
            line=1,
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError("the header is not valid UTF-8", line=1) from exc
    try:
        header = next(csv.reader([text]), [])
    except csv.Error as exc:  # a name past the csv module's field limit, say
        raise UnreadableFileError(f"the header cannot be read as CSV ({exc})", line=1) from exc
    names = [h.strip() for h in header]
    if not any(names):
        raise UnreadableFileError("the file has no header row", line=1)
    if len(set(names)) != len(names):
        raise UnreadableFileError("the header names a column twice", line=1)
    return names


def csv_chunks(source: Source, chunk_bytes: int) -> Iterator[Chunk]:
    # Rows that do not fit the header, by CSV row number (the header is row 1); the line
    # they start on is worked out as the file is walked (a quoted value may span lines).
    broken: dict[int, tuple[BrokenRow, int]] = {}

    def on_broken_row(row: pacsv.InvalidRow) -> str:
        newlines = len(re.findall(LINE_BREAK, row.text))
        found = BrokenRow(row.number, _broken_reason(row, newlines))
        broken[row.number] = (found, newlines)
        source.add_broken(found)
        return "skip"

    walk = _Walk(broken)
    with source.path.open("rb") as handle:
        handle.readline(_HEADER_BYTES)
        if not handle.read(1):
            # The header and nothing more: no rows (Arrow cannot skip a header that has
            # no line end after it, and would say so).
            return
        handle.seek(0)
        try:
            # The header was read (and its names trimmed) already: name the columns, skip it.
            reader = pacsv.open_csv(
                _BlocksEndPastCR(handle),
                read_options=pacsv.ReadOptions(
                    block_size=chunk_bytes,
                    use_threads=False,
                    column_names=source.columns,
                    skip_rows=1,
                ),
                parse_options=pacsv.ParseOptions(
                    invalid_row_handler=on_broken_row,
                    # Blank lines are kept as rows so that rows and lines stay in step; they
                    # are dropped below.
                    ignore_empty_lines=False,
                    # Blocks end where a row ends, found by reading the quotes as the parser
                    # does: else a block ends at its last line end, even one inside a quoted
                    # value, and a valid row is cut in two (a short value and a broken row).
                    newlines_in_values=True,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in source.columns},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                table = pa.Table.from_batches([batch])
                lines = walk.lines(table)
                blank = _blank_rows(table)
                bom = _starts_with_bom(table)
                for line in lines[bom]:
                    source.add_broken(BrokenRow(int(line), BOM_LATER))
                if blank.any() or bom.any():
                    keep = ~(blank | bom)
                    table, lines = table.filter(pa.array(keep)), lines[keep]
                if table.num_rows:
                    yield Chunk(table, lines)
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                raise UnreadableFileError(
                    "the file is not valid UTF-8", line=_first_bad_utf8_line(source.path)
                ) from exc
            if "straddl" in str(exc):  # Arrow: one row is larger than the block it reads
                # Every row before it was read (blocks are parsed in order), so the walk
                # stands on its first line.
                raise UnreadableFileError(
                    f"a row is longer than {chunk_bytes:,} bytes (ENDCAP_INGEST_CHUNK_BYTES): no"
                    " row of the contract is that long; is a quote left open?",
                    line=walk.next_line(),
                ) from exc
            raise UnreadableFileError(f"the CSV cannot be parsed ({exc})") from exc
    walk.finish()
    last_line_is_a_row = walk.last_row_line and walk.last_row_line >= walk.last_broken_line
    if last_line_is_a_row and _ends_inside_quotes(
        source.path, walk.last_row_line, walk.last_row_newlines
    ):
        source.add_broken(
            BrokenRow(walk.last_row_line, "ends inside a quoted value (file cut off?)")
        )


class _BlocksEndPastCR:
    """The file for Arrow to read in blocks, no block ending in a CR.

    Arrow drops an LF that starts a block after a block ending in CR, taking the two for
    one line end split by the boundary; inside a quoted value they are text, and the value
    would lose its LF (apache/arrow#51368, open in pyarrow 26). A read that would end in
    CR goes on to the next byte that is not one."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        self._handle.close()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        while data.endswith(b"\r"):
            more = self._handle.read(1)
            if not more:
                break
            data += more
        return data


def _broken_reason(row: pacsv.InvalidRow, newlines: int) -> str:
    if row.text.startswith(BOM):
        return BOM_LATER  # the likely cause of a column count that is off, too
    reason = f"has {row.actual_columns} of {row.expected_columns} columns"
    if newlines:
        # A quote opened and never closed takes the lines after it into its value: the
        # row (and every line it swallowed) is named, not just "cut off".
        return f"{reason}, over {newlines + 1:,} lines (a quote left open?)"
    if row.actual_columns < row.expected_columns:
        return f"{reason} (file cut off?)"
    return reason


class _Walk:
    """Row numbers to file lines: rows and lines differ by the newlines inside quoted values."""

    def __init__(self, broken: dict[int, tuple[BrokenRow, int]]) -> None:
        self.broken = broken
        self.row = 2  # the CSV row number of the next row (the header is row 1)
        self.line = 2  # and the file line it starts on
        self.last_row_line = 0
        self.last_row_newlines = 0  # inside the last row's quoted values
        self.last_broken_line = 0

    def _step_over_broken(self) -> None:
        while self.row in self.broken:
            found, newlines = self.broken.pop(self.row)
            found.line = self.line
            self.last_broken_line = self.line
            self.row += 1
            self.line += 1 + newlines

    def lines(self, table: pa.Table) -> np.ndarray:
        count = table.num_rows
        newlines = _newlines_per_row(table)
        if not newlines.any() and not any(r >= self.row for r in self.broken):
            # The common case: one row per line, nothing skipped.
            lines = np.arange(self.line, self.line + count, dtype=np.int64)
            self.row += count
            self.line += count
        else:
            lines = np.empty(count, dtype=np.int64)
            for index in range(count):
                self._step_over_broken()
                lines[index] = self.line
                self.row += 1
                self.line += 1 + int(newlines[index])
        if count:
            self.last_row_line = int(lines[-1])
            self.last_row_newlines = int(newlines[-1])
        return lines

    def next_line(self) -> int:
        """The line the next row starts on, once the broken rows read so far are passed."""
        self._step_over_broken()
        return self.line

    def finish(self) -> None:
        """Broken rows after the last good one."""
        self._step_over_broken()
        for row in sorted(self.broken):
            found, _ = self.broken.pop(row)
            found.line = self.line + row - self.row
            self.last_broken_line = max(self.last_broken_line, found.line)


def _newlines_per_row(table: pa.Table) -> np.ndarray:
    """The line ends inside each row's quoted values (a CRLF is one, a lone CR one)."""
    counts = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        # Almost always there is none: look at the column's bytes before counting per row.
        if any(_has_newline(chunk) for chunk in column.chunks):
            found = pc.count_substring_regex(column, LINE_BREAK).fill_null(0)
            counts += np.asarray(found, dtype=np.int64)
    return counts


def _has_newline(array: pa.Array) -> bool:
    data = array.buffers()[2]
    if data is None:
        return False
    content: bytes = data.to_pybytes()
    return b"\n" in content or b"\r" in content


def _blank_rows(table: pa.Table) -> np.ndarray:
    """Rows with nothing in any column: blank lines, skipped without a word."""
    blank = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        blank &= np.asarray(pc.fill_null(pc.equal(column, ""), True), dtype=bool)
        if not blank.any():  # the usual case, known from the first column
            break
    return blank


def _starts_with_bom(table: pa.Table) -> np.ndarray:
    """Rows whose line starts with a byte order mark (Arrow drops only the file's first):
    their first value starts with it, quoted or not, for a quote after it opens nothing."""
    found = pc.starts_with(table.column(0), pattern=BOM)
    return np.asarray(pc.fill_null(found, False), dtype=bool)


def _ends_inside_quotes(path: Path, last_row_line: int, last_row_newlines: int) -> bool:
    """Whether the file stops inside a quoted value of its last row (a file cut off).

    Arrow reads such a value to the end of the file and keeps the row. The last row
    starts on ``last_row_line``; its quoted values hold ``last_row_newlines`` newlines
    (one at least if the cut value took the file's final newline)."""
    if last_row_newlines == 0:
        # One line, the file's last: cut off only if no newline ends the file.
        size = path.stat().st_size
        with path.open("rb") as handle:
            handle.seek(max(size - _TAIL_BYTES, 0))
            tail = handle.read()
        if tail.endswith((b"\n", b"\r")):
            return False
        return _open_at_end(tail.splitlines()[-1])  # bytes split at LF, CRLF and CR
    # Rare (a last value with a newline inside): find where the last row starts by
    # counting lines; the row itself is shorter than a read block.
    return _open_at_end(_from_line(path, last_row_line))


_TAIL_BYTES = 64 * 1024


def _from_line(path: Path, line: int) -> bytes:
    """The file from the start of ``line`` (1-based) to its end, its line ends made LF."""
    with text_lines(path) as handle:
        for _ in itertools.islice(handle, line - 1):
            pass
        return handle.read().encode("utf-8", "surrogateescape")


def _open_at_end(row: bytes) -> bool:
    """Whether ``row``, read from a row's start, ends inside a quoted value."""
    quoted, field_start = False, True
    index = 0
    while index < len(row):
        char = row[index : index + 1]
        if quoted:
            if char == b'"':
                if row[index + 1 : index + 2] == b'"':
                    index += 1  # an escaped quote
                else:
                    quoted = False
        elif char == b'"' and field_start:
            quoted = True
        field_start = char in (b",", b"\n") and not quoted
        index += 1
    return quoted


def _first_bad_utf8_line(path: Path) -> int:
    with text_lines(path) as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:
                return number
    return 1
