"""Streaming readers without a database: every value arrives as text with the file line
(CSV, NDJSON) or row (Parquet) it came from, in bounded chunks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from endcap.ingest.readers import (
    UnreadableFileError,
    chunks,
    format_of,
    open_source,
)
from endcap.ingest.source import KEPT_BROKEN
from tests.ingest.support import write, write_ndjson, write_parquet


def read(path: Path, *, chunk_bytes: int = 1 << 20, chunk_rows: int = 1000):  # type: ignore[no-untyped-def]
    source = open_source(path, format_of(path.name))
    found = list(chunks(source, chunk_bytes=chunk_bytes, chunk_rows=chunk_rows))
    rows = [row for chunk in found for row in chunk.table.to_pylist()]
    lines = [int(line) for chunk in found for line in chunk.lines]
    broken = [(b.line, b.reason) for b in source.broken]
    return source, rows, lines, broken, len(found)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.csv", "csv"), ("a.CSV", "csv"), ("a.parquet", "parquet"), ("a.pq", "parquet"),
     ("a.ndjson", "ndjson"), ("a.jsonl", "ndjson")],
)  # fmt: skip
def test_the_format_comes_from_the_extension(name: str, expected: str) -> None:
    assert format_of(name) == expected


def test_an_unknown_extension_is_refused() -> None:
    with pytest.raises(UnreadableFileError, match=r"unknown file type '\.json'"):
        format_of("a.json")


def test_csv_values_arrive_as_text_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'a, b ,c\n1,,x\n02," y ",3.50\n')
    source, rows, lines, broken, _ = read(path)
    assert source.columns == ["a", "b", "c"]
    assert rows == [{"a": "1", "b": "", "c": "x"}, {"a": "02", "b": " y ", "c": "3.50"}]
    assert lines == [2, 3]
    assert broken == []


def test_csv_lines_stay_right_across_blank_lines_broken_rows_and_multi_line_values(
    tmp_path: Path,
) -> None:
    content = (
        "a,b\n"  # 1
        "1,one\n"  # 2
        "\n"  # 3 blank
        '2,"two\nlines"\n'  # 4-5
        "3\n"  # 6 broken
        "4,four\n"  # 7
        "\r\n"  # 8 blank
        '5,"x",extra\n'  # 9 broken
        "6,six\n"  # 10
    )
    _, rows, lines, broken, _ = read(write(tmp_path / "a.csv", content))
    assert [r["a"] for r in rows] == ["1", "2", "4", "6"]
    assert lines == [2, 4, 7, 10]
    assert broken == [(6, "has 1 of 2 columns (file cut off?)"), (9, "has 3 of 2 columns")]


def test_csv_lines_stay_right_across_many_small_chunks(tmp_path: Path) -> None:
    body = []
    expected = []
    line = 2
    for n in range(2000):
        if n % 97 == 0:
            body.append("\n")
            line += 1
        if n % 211 == 0:
            body.append(f'{n},"two\nlines"\n')
            expected.append(line)
            line += 2
            continue
        if n % 333 == 0:
            body.append(f"{n}\n")  # broken
            line += 1
            continue
        body.append(f"{n},v{n}\n")
        expected.append(line)
        line += 1
    _, rows, lines, broken, count = read(
        write(tmp_path / "a.csv", "a,b\n" + "".join(body)), chunk_bytes=1024
    )
    assert count > 10
    assert lines == expected
    assert len(rows) == len(expected)
    assert [b for b, _ in broken] == [int(x) for x in _broken_lines("a,b\n" + "".join(body))]


def _broken_lines(content: str) -> list[int]:
    return [
        number
        for number, text in enumerate(content.split("\n"), start=1)
        if number > 1 and text and "," not in text and not text.endswith('lines"')
    ]


@pytest.mark.parametrize(
    ("tail", "cut"),
    [
        ('S9,"Nine, the harbo', True),
        ('S9,"Nine ""the"" harbo', True),
        ('S9,"Nine ""the"" harbour"', False),
        ('S9,TV 55" wide', False),  # a bare inch mark inside an unquoted value
        # Arrow keeps an open value to the end of the file, newlines and all.
        ('S9,"Nine, the harbo\n', True),
        ('S9,"Nine, the harbo\r\n', True),
        ('S9,"Nine\nthe harbo', True),
        ('S9,"Nine\nthe harbo\n', True),
        ('S9,"Nine\nthe ""harbour""\n', True),
        ("S9,Nine", False),
        ("S9,Nine\n", False),
        ('S9,"Nine\nthe harbour"', False),
        ('S9,"Nine\nthe harbour"\n', False),
        ('S9,"Nine""\nthe ""harbour"""\n', False),
    ],
)
def test_a_file_cut_inside_a_quoted_value_is_noticed(tmp_path: Path, tail: str, cut: bool) -> None:
    _, _, _, broken, _ = read(write(tmp_path / "a.csv", "store_id,name\nS8,Eight\n" + tail))
    expected = [(3, "ends inside a quoted value (file cut off?)")] if cut else []
    assert broken == expected


def test_a_cut_value_is_found_after_values_spanning_lines(tmp_path: Path) -> None:
    """The last row's first line is found by counting the file's lines: earlier values
    spanning lines must not shift it."""
    content = 'store_id,name\nS7,"Seven\nby the\nsea"\nS8,Eight\nS9,"Nine\nthe harbo\n'
    _, rows, lines, broken, _ = read(write(tmp_path / "a.csv", content))
    assert lines == [2, 5, 6]
    assert broken == [(6, "ends inside a quoted value (file cut off?)")]
    assert rows[2] == {"store_id": "S9", "name": "Nine\nthe harbo\n"}


def test_a_non_utf8_csv_names_its_first_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a,b\n1,x\n2,\xe9\n3,\xe9\n".encode("latin-1"))
    with pytest.raises(UnreadableFileError) as raised:
        read(path)
    assert (raised.value.line, raised.value.reason) == (3, "the file is not valid UTF-8")


def test_a_csv_is_read_in_chunks_of_about_chunk_bytes(tmp_path: Path) -> None:
    content = "a,b\n" + "".join(f"{n},{'x' * 20}\n" for n in range(5000))
    _, rows, lines, _, count = read(write(tmp_path / "a.csv", content), chunk_bytes=4096)
    assert len(rows) == 5000
    assert lines == list(range(2, 5002))
    assert count >= len(content) // 4096


def test_parquet_values_become_text_and_rows_are_numbered(tmp_path: Path) -> None:
    table = pa.table(
        {
            "i": pa.array([1, None, 3], pa.int64()),
            "f": [1.5, 2.0, None],
            "b": [True, False, None],
            "t": pa.array([0, 1_000_000, None], pa.timestamp("us")),
            "s": ["x", "", None],
        }
    )
    _, rows, lines, _, count = read(
        write_parquet(tmp_path / "a.parquet", table, row_group_size=2), chunk_rows=2
    )
    assert rows == [
        {"i": "1", "f": "1.5", "b": "true", "t": "1970-01-01 00:00:00.000000Z", "s": "x"},
        {"i": None, "f": "2", "b": "false", "t": "1970-01-01 00:00:01.000000Z", "s": ""},
        {"i": "3", "f": None, "b": None, "t": None, "s": None},
    ]
    assert lines == [1, 2, 3]
    assert count == 2


def test_ndjson_values_become_text_and_new_keys_are_columns(tmp_path: Path) -> None:
    path = write_ndjson(
        tmp_path / "a.ndjson",
        [{"a": "x", "n": 1}, {"a": "y", "n": 2.5, "extra": True}, {"a": None, "o": {"k": 1}}],
    )
    path.write_text(path.read_text().replace("\n", "\n\n", 1))  # a blank line 2
    _, rows, lines, _, _ = read(path, chunk_rows=2)
    assert rows == [
        {"a": "x", "n": "1", "extra": None},  # a key new in a chunk is null before it
        {"a": "y", "n": "2.5", "extra": "true"},
        {"a": None, "n": None, "extra": None, "o": '{"k": 1}'},
    ]
    assert lines == [1, 3, 4]


def test_every_ndjson_line_that_is_not_an_object_is_a_broken_row(tmp_path: Path) -> None:
    """Reading goes on past a line that is not JSON, so that one report names them all."""
    content = (
        b'{"a": "x"}\n'  # 1
        b'{"a": \n'  # 2
        b"[1, 2]\n"  # 3
        b'{"a": "y"}\n'  # 4
        b'{"a": "z"} {"a": "w"}\n'  # 5
        b'{"a": "v"'  # 6, and no line end: the file stops here
    )
    _, rows, lines, broken, _ = read(write(tmp_path / "a.ndjson", content))
    assert (rows, lines) == ([{"a": "x"}, {"a": "y"}], [1, 4])
    assert broken == [
        (2, "not valid JSON (Expecting value at column 7)"),
        (3, "each line must be a JSON object"),
        (5, "not valid JSON (Extra data at column 12)"),
        (
            6,
            "not valid JSON (Expecting ',' delimiter at column 10);"
            " the file ends on this line: cut off?",
        ),
    ]


@pytest.mark.parametrize(("name", "bad"), [("a.ndjson", b"nope\n"), ("a.csv", b"1,2,3\n")])
def test_a_file_of_broken_lines_is_counted_to_the_end_but_not_held(
    tmp_path: Path, name: str, bad: bytes
) -> None:
    """Past KEPT_BROKEN, broken rows are counted, not kept: a file of nothing else is not
    held in memory for a report that names a thousand."""
    head = b'{"a": "x"}\n' if name.endswith("ndjson") else b"a\nx\n"
    path = write(tmp_path / name, head + bad * (KEPT_BROKEN + 5))
    source = open_source(path, format_of(path.name))
    rows = [
        r for c in chunks(source, chunk_bytes=1 << 16, chunk_rows=1000) for r in c.table.to_pylist()
    ]
    assert rows == [{"a": "x"}]
    assert source.broken_total == KEPT_BROKEN + 5
    assert len(source.broken) == KEPT_BROKEN
    assert source.broken[-1].line == KEPT_BROKEN + (1 if name.endswith("ndjson") else 2)


def test_ndjson_columns_come_from_the_first_line_that_is_an_object(tmp_path: Path) -> None:
    content = b'{"store_id": "S1", "na\n\n"just text"\n{"store_id": "S2", "name": "Two"}\n'
    source, rows, lines, broken, _ = read(write(tmp_path / "a.ndjson", content))
    assert source.columns == ["store_id", "name"]
    assert (rows, lines) == ([{"store_id": "S2", "name": "Two"}], [4])
    assert broken == [
        (1, "not valid JSON (Unterminated string starting at column 20)"),
        (3, "each line must be a JSON object"),
    ]


def test_an_ndjson_file_with_no_object_on_any_line_is_refused(tmp_path: Path) -> None:
    """A JSON object written out over several lines: not NDJSON at all."""
    content = b'{\n  "a": 1,\n  "b": 2\n}\n'
    with pytest.raises(UnreadableFileError) as raised:
        read(write(tmp_path / "a.ndjson", content))
    assert (raised.value.line, raised.value.reason) == (
        1,
        "no line of the file is a JSON object (NDJSON holds one object per line);"
        " the first says: not valid JSON (Expecting property name enclosed in double quotes"
        " at column 2)",
    )


def test_a_non_utf8_ndjson_line_refuses_the_file(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 mean the file was saved in another encoding: the whole
    file is refused (as a CSV is), naming the first such line."""
    with pytest.raises(UnreadableFileError) as raised:
        read(write(tmp_path / "a.ndjson", b'{"a": "x"}\n{"a": \n{"a": "\xff"}\n'))
    assert (raised.value.line, raised.value.reason) == (3, "the file is not valid UTF-8")


def test_an_ndjson_row_giving_a_member_twice_is_a_broken_row(tmp_path: Path) -> None:
    content = (
        b'{"store_id": "S918", "store_id": "S919"}\n'
        b'{"store_id": "S920", "o": {"k": 1}}\n'
        b'{"store_id": "S921", "o": {"k": 1, "k" : 2}, "n": 1, "n": 1}\n'
    )
    source, rows, lines, broken, _ = read(write(tmp_path / "a.ndjson", content))
    assert source.columns == ["store_id"]
    assert rows == [{"store_id": "S920", "o": '{"k": 1}'}]
    assert lines == [2]
    given_twice = "given more than once; give each member of an object once"
    assert broken == [
        (1, f"member /store_id {given_twice}"),
        (3, f"member /o/k, /n {given_twice}"),
    ]


def test_an_ndjson_file_may_start_with_a_utf8_byte_order_mark(tmp_path: Path) -> None:
    content = b'\xef\xbb\xbf{"a": "x"}\n{"a": "y"}\n'
    source, rows, lines, broken, _ = read(write(tmp_path / "bom.ndjson", content))
    assert source.columns == ["a"]
    assert (rows, lines, broken) == ([{"a": "x"}, {"a": "y"}], [1, 2], [])


def test_a_byte_order_mark_after_the_first_line_is_a_broken_row(tmp_path: Path) -> None:
    """Two files joined end to end, the second saved with a byte order mark."""
    content = b'{"a": "x"}\n\xef\xbb\xbf{"a": "y"}\n{"a": "z"}\n\xef\xbb\xbf{"a": "w"}\n'
    _, rows, lines, broken, _ = read(write(tmp_path / "a.ndjson", content))
    assert (rows, lines) == ([{"a": "x"}, {"a": "z"}], [1, 3])
    starts_with_a_bom = (
        "the line starts with a byte order mark (U+FEFF), which only the first line may:"
        " were files joined together? remove it"
    )
    assert broken == [(2, starts_with_a_bom), (4, starts_with_a_bom)]


def test_a_windows_csv_with_crlf_lines_reads_like_any_other(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", b"a,b\r\n1,x\r\n\r\n2,y\r\n3\r\n4,z")
    source, rows, lines, broken, _ = read(path)
    assert source.columns == ["a", "b"]
    assert rows == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}, {"a": "4", "b": "z"}]
    assert lines == [2, 4, 6]
    assert broken == [(5, "has 1 of 2 columns (file cut off?)")]


def test_ndjson_lines_are_numbered_as_an_editor_shows_them(tmp_path: Path) -> None:
    """LF, CRLF and a lone CR (old Mac) each end a line, in whatever mix the file has."""
    content = (
        b'{"a": "1"}\r\n'  # 1
        b'{"a": "2"}\n'  # 2
        b'{"a": "3"}\r'  # 3
        b"[3]\r\n"  # 4
        b"\r"  # 5 blank
        b'{"a": "6"}\r\r\n'  # 6, and 7 blank
        b"[8]\n"  # 8
        b'{"a": "9"}\r'  # 9
    )
    _, rows, lines, broken, _ = read(write(tmp_path / "a.ndjson", content))
    assert [r["a"] for r in rows] == ["1", "2", "3", "6", "9"]
    assert lines == [1, 2, 3, 6, 9]
    assert broken == [
        (4, "each line must be a JSON object"),
        (8, "each line must be a JSON object"),
    ]


@pytest.mark.parametrize(
    ("content", "lines", "broken"),
    [
        (b"a,b\r\n1,x\n2,y\r\n3\n4,z\r\n5", [2, 3, 5], [(4, "has 1 of 2 columns (file cut off?)"),
                                                      (6, "has 1 of 2 columns (file cut off?)")]),
        (b'a,b\n1,"x\ry"\n2,y\n3\n', [2, 4], [(5, "has 1 of 2 columns (file cut off?)")]),
        (b'a,b\n1,"x\r\ny"\r2,y\r3\n', [2, 4], [(5, "has 1 of 2 columns (file cut off?)")]),
        (b'a,b\n1,x\r2,"y\nz"\r3,"w\r', [2, 3, 5],
         [(5, "ends inside a quoted value (file cut off?)")]),
    ],
    ids=["CRLF and LF", "a CR inside a value", "CRLF inside a value, CR line ends",
         "cut off after CR line ends"],
)  # fmt: skip
def test_csv_lines_are_numbered_as_an_editor_shows_them(
    tmp_path: Path, content: bytes, lines: list[int], broken: list[tuple[int, str]]
) -> None:
    _, _, found_lines, found_broken, _ = read(write(tmp_path / "a.csv", content))
    assert (found_lines, found_broken) == (lines, broken)


def test_a_non_utf8_csv_line_after_cr_line_ends_is_named_as_an_editor_shows_it(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "a.csv", b"a,b\n1,x\r2,y\r3,\xe9\n4,z\n")
    with pytest.raises(UnreadableFileError) as raised:
        read(path)
    assert (raised.value.line, raised.value.reason) == (4, "the file is not valid UTF-8")


@pytest.mark.parametrize(
    "content",
    [b"store_id,name\rS905,A\r", b"store_id,name\rS905,A", b"\xef\xbb\xbfa,b\r1,x\r2,y\r"],
    ids=["CR after every line", "no CR at the end", "after a byte order mark"],
)
def test_a_csv_with_bare_cr_line_ends_is_refused_as_such(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(UnreadableFileError) as raised:
        read(write(tmp_path / "mac.csv", content))
    assert (raised.value.line, raised.value.reason) == (
        1,
        "line endings are bare CR (old Mac style): save the file with LF or CRLF line ends",
    )


def test_a_header_the_csv_module_cannot_read_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.csv", "a," + "b" * 200_000 + "\n1,2\n")
    with pytest.raises(UnreadableFileError) as raised:
        read(path)
    assert raised.value.line == 1
    assert raised.value.reason.startswith("the header cannot be read as CSV ("), raised.value


def test_a_file_with_no_line_end_is_not_read_whole_for_its_header(tmp_path: Path) -> None:
    path = write(tmp_path / "one.csv", "a," * 2_000_000)
    with pytest.raises(UnreadableFileError) as raised:
        read(path)
    assert (raised.value.line, raised.value.reason) == (
        1,
        "the header row is longer than 1,048,576 bytes (no line end found): is this a CSV file?",
    )


def test_a_csv_holding_only_its_header_without_a_line_end_has_no_rows(tmp_path: Path) -> None:
    source, rows, _, broken, _ = read(write(tmp_path / "a.csv", "store_id,name"))
    assert (source.columns, rows, broken) == (["store_id", "name"], [], [])


def test_a_row_longer_than_the_read_block_is_named_as_such(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", "a,b\nx," + "y" * 5000 + "\nz,w\n")
    with pytest.raises(UnreadableFileError, match="a row is longer than 1,024 bytes") as raised:
        read(path, chunk_bytes=1024)
    assert raised.value.line == 2


def test_a_quote_left_open_in_a_file_of_many_blocks_names_its_line(tmp_path: Path) -> None:
    """The open value runs on past a whole block: the file is refused at the line where
    the row starts, after blank, broken and multi-line rows before it."""
    rows = [f"S{n},name {n}\n" for n in range(300)]
    rows[40:40] = ["\n", "S9\n", 'S8,"two\nlines"\n']  # lines 42, 43 and 44-45
    # Lines 2-41, 42-45, then 57 more: the open quote is on line 103.
    content = "store_id,name\n" + "".join(rows[:100]) + 'S7,"open\n' + "".join(rows[100:])
    with pytest.raises(UnreadableFileError) as raised:
        read(write(tmp_path / "open.csv", content), chunk_bytes=1024)
    assert (raised.value.line, raised.value.reason) == (
        103,
        "a row is longer than 1,024 bytes (ENDCAP_INGEST_CHUNK_BYTES): no row of the contract"
        " is that long; is a quote left open?",
    )


def test_a_byte_order_mark_starting_a_later_csv_line_is_a_broken_row(tmp_path: Path) -> None:
    """Two files joined end to end, the second saved with a byte order mark: its header
    is a row, whatever its columns, and so is any line after the first that starts so."""
    content = (
        "\ufeffstore_id,name\n"  # 1: the file's own mark, dropped
        "S1,One\n"  # 2
        "\ufeffstore_id,name\n"  # 3
        "S2,Two\n"  # 4
        '\ufeff"S3",Three\n'  # 5
        "\ufeffstore_id,name,region\n"  # 6
        'S5,"\ufeffinside a value"\n'  # 7: not at a line start, kept
    )
    _, rows, lines, broken, _ = read(write(tmp_path / "a.csv", content))
    assert [r["store_id"] for r in rows] == ["S1", "S2", "S5"]
    assert lines == [2, 4, 7]
    starts_with_a_bom = (
        "the line starts with a byte order mark (U+FEFF), which only the first line may:"
        " were files joined together? remove it"
    )
    assert sorted(broken) == [
        (3, starts_with_a_bom),
        (5, starts_with_a_bom),
        (6, starts_with_a_bom),
    ]
