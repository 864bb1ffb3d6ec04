"""Vectorised checks of one chunk: good values come out normalised, bad ones become
rejections naming line, column and reason."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from endcap.ingest.contract import TRANSACTIONS, ColumnSpec, EntitySpec, Kind
from endcap.ingest.validate import check_chunk


def check(spec: EntitySpec, column: str, values: list[str | None], *, returns: bool = False):  # type: ignore[no-untyped-def]
    table = pa.table({column: pa.array(values, pa.string())})
    lines = np.arange(10, 10 + len(values), dtype=np.int64)
    checked = check_chunk(spec, table, lines, allow_returns=returns)
    return (
        checked.columns[column].to_pylist(),
        checked.ok.tolist(),
        [(r.line, r.reason) for r in checked.rejections],
    )


def one(column: ColumnSpec) -> EntitySpec:
    return EntitySpec("test", (column,), key=(column.name,))


def test_decimals_accept_the_usual_spellings_and_refuse_the_rest() -> None:
    values, ok, rejections = check(
        one(ColumnSpec("v", Kind.DECIMAL)),
        "v",
        ["1", " 2.50 ", ".5", "3.", "+4", "", None, "1e3", "1,5", "NaN", "--1"],
    )
    assert values[:7] == ["1", "2.50", ".5", "3.", "+4", None, None]
    assert ok == [True] * 7 + [False] * 4
    assert rejections == [
        (17, "must be a number (got '1e3')"),
        (18, "must be a number (got '1,5')"),
        (19, "must be a number (got 'NaN')"),
        (20, "must be a number (got '--1')"),
    ]


def test_negative_quantities_are_returns_and_only_allowed_with_returns() -> None:
    spec = one(ColumnSpec("q", Kind.DECIMAL, signed_if_returns=True))
    _, ok, rejections = check(spec, "q", ["-1", "0", "-0.5"])
    assert ok == [False, True, False]
    assert [line for line, _ in rejections] == [10, 12]
    _, ok, rejections = check(spec, "q", ["-1", "0", "-0.5"], returns=True)
    assert (ok, rejections) == ([True, True, True], [])
    # A column that is never a return stays non-negative.
    _, ok, _ = check(one(ColumnSpec("d", Kind.DECIMAL)), "d", ["-1"], returns=True)
    assert ok == [False]


def test_a_decimal_too_large_for_its_column_is_out_of_range() -> None:
    spec = one(ColumnSpec("q", Kind.DECIMAL, integer_digits=3, signed_if_returns=True))
    _, ok, rejections = check(spec, "q", ["999.999", "1000", "0001.5", "-999", "-1000", ".5"],
                              returns=True)  # fmt: skip
    assert ok == [True, False, True, True, False, True]
    assert rejections == [
        (11, "out of range: at most 3 digits before the point (got '1000')"),
        (14, "out of range: at most 3 digits before the point (got '-1000')"),
    ]


def test_whole_numbers_get_one_spelling() -> None:
    values, ok, rejections = check(
        one(ColumnSpec("n", Kind.INT)), "n", ["7", "+7", "007", "0", "000", "", "1.0", "-1"]
    )
    assert values[:6] == ["7", "7", "7", "0", "0", None]
    assert ok == [True] * 6 + [False, False]
    assert [reason for _, reason in rejections] == [
        "must be a whole number (got '1.0')",
        "must be a whole number (got '-1')",
    ]


def test_timestamps_are_utc() -> None:
    values, ok, rejections = check(
        one(ColumnSpec("t", Kind.TIMESTAMP)),
        "t",
        [
            "2024-03-01",
            "2024-03-01 10:15",
            "2024-03-01T10:15:30.5",
            "2024-03-01T10:15:30+01:00",
            "2024-03-01T10:15:30Z",
            "",
            "2024-02-30",
            "1/3/2024",
        ],
    )
    assert values[:6] == [
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 3, 1, 10, 15, tzinfo=UTC),
        datetime(2024, 3, 1, 10, 15, 30, 500_000, tzinfo=UTC),
        datetime(2024, 3, 1, 9, 15, 30, tzinfo=UTC),
        datetime(2024, 3, 1, 10, 15, 30, tzinfo=UTC),
        None,
    ]
    assert ok == [True] * 6 + [False, False]
    assert [line for line, _ in rejections] == [16, 17]


def test_choices_and_booleans_are_case_blind() -> None:
    values, ok, _ = check(one(ColumnSpec("c", Kind.CHOICE, choices=("store", "online"))), "c",
                          ["Store", " ONLINE ", "", "web"])  # fmt: skip
    assert (values[:3], ok) == (["store", "online", None], [True, True, True, False])
    values, ok, _ = check(one(ColumnSpec("b", Kind.BOOL)), "b",
                          ["Yes", "n", "TRUE", "0", "", "maybe"])  # fmt: skip
    assert values[:5] == ["true", "false", "true", "false", "false"]
    assert ok == [True] * 5 + [False]


def test_text_is_trimmed_and_a_required_blank_is_named() -> None:
    values, ok, rejections = check(
        one(ColumnSpec("s", Kind.TEXT, required=True, max_length=3)), "s", [" ab ", "", "abcd"]
    )
    assert values[0] == "ab"
    assert ok == [True, False, True]  # a blank required value stops further checks of it
    assert rejections == [(11, "a value is required")]


def test_all_problems_in_a_row_are_reported_together() -> None:
    table = pa.table(
        {
            "transaction_id": ["T1", ""],
            "occurred_at": ["2024-03-01", "never"],
            "sku": ["S", "S"],
            "quantity": ["1", "x"],
            "sales_value": ["1", "1"],
        }
    )
    checked = check_chunk(TRANSACTIONS, table, np.array([2, 3]), allow_returns=False)
    assert checked.ok.tolist() == [True, False]
    assert [(r.line, r.column) for r in checked.rejections] == [
        (3, "transaction_id"),
        (3, "occurred_at"),
        (3, "quantity"),
    ]
