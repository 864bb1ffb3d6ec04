"""What the readers of every format yield, and the line rules they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pyarrow as pa


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


# Broken rows kept for the report, which names far fewer (ENDCAP_INGEST_REJECTION_CAP):
# a file of nothing but broken lines is counted to the end, not held in memory.
KEPT_BROKEN = 10_000


@dataclass(slots=True)
class Source:
    path: Path
    file_format: str
    columns: list[str]
    broken: list[BrokenRow] = field(default_factory=list)  # the first KEPT_BROKEN
    broken_total: int = 0

    def add_broken(self, row: BrokenRow) -> None:
        self.broken_total += 1
        if len(self.broken) < KEPT_BROKEN:
            self.broken.append(row)


# A line ends at LF, CRLF or a lone CR (old Mac), in any mix: where a text editor ends it, and
# where Arrow ends a CSV row. Every line number in a report counts them so.
LINE_BREAK = "\r\n|\r|\n"

# A UTF-8 byte order mark opens a file that Windows tools wrote, and is dropped there;
# at the start of a later line it is most likely a second such file joined on.
BOM = "\ufeff"
BOM_LATER = (
    "the line starts with a byte order mark (U+FEFF), which only the first line may:"
    " were files joined together? remove it"
)


def text_lines(path: Path) -> TextIO:
    """The file as text, read line by line with every kind of line end turned into LF.
    Bytes that are not UTF-8 come through (as lone surrogates, which ``encode`` refuses)
    so that the line holding them can be named."""
    return path.open(encoding="utf-8", errors="surrogateescape", newline=None)
