"""A CSV file reads the same whatever the read block size (ENDCAP_INGEST_CHUNK_BYTES): a
quoted value spanning lines may cross a block boundary, and must not be cut there."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from endcap.ingest.readers import chunks, open_source

# Small blocks put many boundaries inside a short file, the big one puts none; every row
# written below fits the smallest (Arrow refuses a row that spans a whole block).
SMALL_BLOCKS = (48, 64, 97)
ONE_BLOCK = 1 << 20

# Line ends inside values (LF, CRLF, a lone CR), the delimiter, quotes and a two-byte
# character, so that boundaries fall inside quoted values and inside a UTF-8 sequence.
_PIECES = ["a", "b", " ", ",", '"', "\n", "\r\n", "\r", "é"]
_VALUE = st.lists(st.sampled_from(_PIECES), max_size=5).map("".join)


def _read(path: Path, chunk_bytes: int) -> tuple[list[dict[str, str]], list[int], list[object]]:
    source = open_source(path, "csv")
    found = list(chunks(source, chunk_bytes=chunk_bytes, chunk_rows=1000))
    rows = [row for chunk in found for row in chunk.table.to_pylist()]
    lines = [int(line) for chunk in found for line in chunk.lines]
    return rows, lines, [(b.line, b.reason) for b in source.broken]


def _field(value: str, quote_anyway: bool) -> str:
    # By hand: the csv module leaves a lone CR unquoted when lines end in LF.
    if quote_anyway or any(char in value for char in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def _csv_files(draw: st.DrawFn) -> tuple[bytes, list[dict[str, str]], list[int]]:
    """A valid CSV file, the rows a reader must find in it and the line each starts on."""
    names = ["a", "b", "c"][: draw(st.integers(2, 3))]
    rows = draw(st.lists(st.lists(_VALUE, min_size=len(names), max_size=len(names)), max_size=30))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    quote_anyway = draw(st.booleans())
    content = line_end.join(
        ",".join(_field(value, quote_anyway) for value in row) for row in [names, *rows]
    )
    if draw(st.booleans()):  # or the last line without its line end
        content += line_end
    expected, lines, line = [], [], 2
    for row in rows:
        if any(row):  # a row of empty values is a blank line, skipped
            expected.append(dict(zip(names, row, strict=True)))
            lines.append(line)
        line += 1 + sum(len(re.findall("\r\n|\r|\n", value)) for value in row)
    return content.encode(), expected, lines


@settings(max_examples=300, deadline=None)
@given(_csv_files())
def test_a_valid_csv_reads_the_same_whatever_the_block_size(
    case: tuple[bytes, list[dict[str, str]], list[int]],
) -> None:
    content, rows, lines = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.csv"
        path.write_bytes(content)
        for chunk_bytes in (*SMALL_BLOCKS, ONE_BLOCK):
            assert _read(path, chunk_bytes) == (rows, lines, []), chunk_bytes


def test_a_value_spanning_lines_across_a_block_boundary_is_kept_whole(tmp_path: Path) -> None:
    """The case found: with 16-byte blocks the value was cut at "y\\n" and "z\\"" became a
    row of one column, so a valid file was rejected."""
    path = tmp_path / "a.csv"
    path.write_bytes(b'a,b\n1,xxxxx\n2,"y\nz"\n3,z\n')
    expected = [{"a": "1", "b": "xxxxx"}, {"a": "2", "b": "y\nz"}, {"a": "3", "b": "z"}]
    for chunk_bytes in (16, ONE_BLOCK):
        assert _read(path, chunk_bytes) == (expected, [2, 3, 5], []), chunk_bytes
