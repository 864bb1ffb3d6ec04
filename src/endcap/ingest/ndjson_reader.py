"""NDJSON: read line by line, one object per line; a line that is not one is a broken row
naming its line (ingest/readers.py)."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pyarrow as pa

from endcap.ingest.source import (
    BOM,
    BOM_LATER,
    BrokenRow,
    Chunk,
    Source,
    UnreadableFileError,
    text_lines,
)
from endcap.json_members import REPEATED_MEMBER, repeated_members

# What makes a line blank (skipped without a word): ASCII whitespace, as bytes.strip() has it;
# str.strip() would also take a no-break space, which JSON does not.
_BLANK = " \t\n\r\v\f"


def _ndjson_lines(path: Path) -> Generator[tuple[int, str, bytes]]:
    """The file's lines that are not blank: number, text and UTF-8 bytes (for the check of
    members given twice). A UTF-8 byte order mark before the first is dropped, as in a CSV
    file (Windows tools write one). Raises UnreadableFileError at the first line that is
    not UTF-8: the file was saved in another encoding, which is no fault of one row."""
    with text_lines(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.removeprefix(BOM) if number == 1 else line
            if not text.strip(_BLANK):
                continue
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise UnreadableFileError("the file is not valid UTF-8", line=number) from exc
            yield number, text, raw


def ndjson_columns(path: Path) -> list[str]:
    """The members of the first line that is an object: a broken line before it is one
    rejected row, and should not cost the file its columns."""
    first_fault: tuple[int, str] | None = None
    with closing(_ndjson_lines(path)) as lines:
        for number, text, _ in lines:
            record = _ndjson_record(text)
            if isinstance(record, dict):
                return list(record)
            first_fault = first_fault or (number, record)
    if first_fault is None:
        raise UnreadableFileError("the file has no records")
    number, reason = first_fault
    raise UnreadableFileError(
        "no line of the file is a JSON object (NDJSON holds one object per line);"
        f" the first says: {reason}",
        line=number,
    )


def _ndjson_record(text: str) -> dict[str, object] | str:
    """The line's object, or why it is not one (the line is a rejected row)."""
    if text.startswith(BOM):
        # json would say "Unexpected UTF-8 BOM (decode using utf-8-sig)": true, but no help.
        return BOM_LATER
    try:
        # Without its line end, so that an error at the end of the line is placed on it.
        record = json.loads(text.removesuffix("\n"))
    except json.JSONDecodeError as exc:
        # "Unterminated string starting at" ends in "at" already.
        where = f"{exc.msg.removesuffix(' at')} at column {exc.colno}"
        return f"not valid JSON ({where})"
    if not isinstance(record, dict):
        return "each line must be a JSON object"
    return record


def ndjson_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    names = source.columns
    values: dict[str, list[str | None]] = {name: [] for name in names}
    lines: list[int] = []
    for number, text, raw in _ndjson_lines(source.path):
        record = _ndjson_record(text)
        if isinstance(record, str):
            if not text.endswith("\n") and record.startswith("not valid JSON"):
                # The last line, with no line end: most likely the upload was cut short.
                record += "; the file ends on this line: cut off?"
            source.add_broken(BrokenRow(number, record))
            continue
        repeated = repeated_members(raw, record)
        if repeated:
            # json.loads kept the last of each: the row is not what its writer may have meant.
            source.add_broken(BrokenRow(number, f"member {', '.join(repeated)} {REPEATED_MEMBER}"))
            continue
        for name in record.keys() - values.keys():
            values[name] = [None] * len(lines)
        for name, column in values.items():
            value = record.get(name)
            column.append(
                None if value is None else value if isinstance(value, str) else json.dumps(value)
            )
        lines.append(number)
        if len(lines) >= chunk_rows:
            yield Chunk(_strings(values), np.asarray(lines, dtype=np.int64))
            values = {name: [] for name in values}
            lines = []
    if lines:
        yield Chunk(_strings(values), np.asarray(lines, dtype=np.int64))


def _strings(values: dict[str, list[str | None]]) -> pa.Table:
    """String columns, even one that is null in every row of the chunk (Arrow would type it
    null, and validation's string functions have no kernel for that)."""
    return pa.table({name: pa.array(column, type=pa.string()) for name, column in values.items()})
