"""Vectorised checks of one chunk: each bad value becomes a rejection naming its line,
column and reason; good values come out normalised as strings ready for staging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from endcap.db.types import CLOCK_LEEWAY, EARLIEST, LATEST
from endcap.ingest.contract import ColumnSpec, EntitySpec, Kind

DECIMAL = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
INTEGER = r"^\+?\d{1,9}$"
# ISO-8601 without an offset is UTC (DESIGN.md); a date alone is its midnight.
NAIVE_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"
TRUE = ("true", "t", "1", "yes", "y")
FALSE = ("false", "f", "0", "no", "n", "")


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass(slots=True)
class Checked:
    columns: dict[str, pa.Array]
    ok: np.ndarray  # boolean mask of rows with no rejection
    rejections: list[Rejection]


Problems = list[tuple[np.ndarray, str]]


def check_chunk(
    spec: EntitySpec, table: pa.Table, lines: np.ndarray, *, allow_returns: bool
) -> Checked:
    ok = np.ones(table.num_rows, dtype=bool)
    rejections: list[Rejection] = []
    columns: dict[str, pa.Array] = {}
    for column in spec.columns:
        if column.name not in table.column_names:
            continue
        raw = pc.utf8_trim_whitespace(table.column(column.name).combine_chunks())
        value, problems = _check(column, raw, allow_returns=allow_returns)
        problems = [*problems, (_has_nul(raw), NUL_REASON)]
        columns[column.name] = value
        for bad, reason in problems:
            if bad.any():
                ok &= ~bad
                rejections.extend(_rejections(lines, bad, column.name, reason, raw))
    for name in set(table.column_names) - {c.name for c in spec.columns}:  # attributes
        raw = table.column(name).combine_chunks()
        bad = _has_nul(raw)
        if bad.any():
            ok &= ~bad
            rejections.extend(_rejections(lines, bad, name, NUL_REASON, raw))
    return Checked(columns, ok, rejections)


# PostgreSQL's text cannot hold U+0000: one would fail the whole load at the COPY.
NUL_REASON = "contains a NUL character, which text cannot hold"


def _has_nul(raw: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.match_substring(raw, "\x00"), False), dtype=bool)


def _rejections(
    lines: np.ndarray, bad: np.ndarray, column: str, reason: str, raw: pa.Array
) -> list[Rejection]:
    found = []
    for index in np.flatnonzero(bad):
        value = raw[int(index)].as_py()
        shown = f" (got {value[:40]!r})" if value else ""
        found.append(Rejection(int(lines[index]), column, reason + shown))
    return found


def _check(  # noqa: PLR0911  (one return per column kind reads best)
    column: ColumnSpec, raw: pa.Array, *, allow_returns: bool
) -> tuple[pa.Array, Problems]:
    blank = np.asarray(pc.fill_null(pc.equal(raw, ""), True))
    if column.required and blank.any():
        return raw, [(blank, "a value is required")]
    filled = pc.fill_null(raw, "")
    if column.kind is Kind.TEXT:
        too_long = np.asarray(pc.greater(pc.utf8_length(filled), column.max_length))
        return _nullify(filled, blank), [(too_long, f"longer than {column.max_length} characters")]
    if column.kind is Kind.CHOICE:
        lowered = pc.utf8_lower(filled)
        known = np.asarray(pc.is_in(lowered, value_set=pa.array(column.choices)))
        return _nullify(lowered, blank), [
            (~known & ~blank, f"must be one of {', '.join(column.choices)}")
        ]
    if column.kind is Kind.BOOL:
        lowered = pc.utf8_lower(filled)
        truthy = np.asarray(pc.is_in(lowered, value_set=pa.array(TRUE)))
        falsy = np.asarray(pc.is_in(lowered, value_set=pa.array(FALSE)))
        return pa.array(np.where(truthy, "true", "false")), [
            (~(truthy | falsy), "must be true or false")
        ]
    if column.kind is Kind.INT:
        bad = ~np.asarray(pc.match_substring_regex(filled, INTEGER)) & ~blank
        # One spelling per number ("+07" is 7), so that a line is the same line in every file.
        canonical = pc.replace_substring_regex(filled, r"^\+?0*(\d)", r"\1")
        return _nullify(canonical, blank), [(bad, "must be a whole number")]
    if column.kind is Kind.DECIMAL:
        bad = ~np.asarray(pc.match_substring_regex(filled, DECIMAL)) & ~blank
        negative = np.asarray(pc.starts_with(filled, "-")) & ~blank & ~bad
        if column.signed_if_returns and allow_returns:
            negative[:] = False
        problems = [
            (bad, "must be a number"),
            (negative, "must not be negative (returns are not enabled)"),
        ]
        if column.integer_digits is not None:
            digits = column.integer_digits
            whole = pc.replace_substring_regex(filled, r"^[+-]?0*(\d*).*$", r"\1")
            too_large = np.asarray(pc.greater(pc.utf8_length(whole), digits)) & ~blank & ~bad
            problems.append((too_large, f"out of range: at most {digits} digits before the point"))
        return _nullify(filled, blank), problems
    parsed, bad = _timestamps(filled, blank)
    # An offset can carry a valid date out of every calendar the database keeps
    # (0001-01-01T00:00+14:00 is in year 0 in UTC), and no record is that old or new.
    early = pc.less(parsed, pa.scalar(EARLIEST, parsed.type))
    if column.not_in_future:
        late = pc.greater(parsed, pa.scalar(datetime.now(UTC) + CLOCK_LEEWAY, parsed.type))
    else:
        late = pc.greater_equal(parsed, pa.scalar(LATEST, parsed.type))
    problems = [
        (bad, "not an ISO-8601 date-time"),
        (
            np.asarray(pc.fill_null(early, False)) & ~bad,
            f"out of range: from {EARLIEST.year} on",
        ),
        (
            np.asarray(pc.fill_null(late, False)) & ~bad,
            "in the future (later than the time of the load)"
            if column.not_in_future
            else f"out of range: before {LATEST.year}",
        ),
    ]
    return parsed, problems


def _nullify(values: pa.Array, blank: np.ndarray) -> pa.Array:
    if not blank.any():
        return values
    return pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), values)


def _timestamps(filled: pa.Array, blank: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Parse ISO-8601 (UTC when no offset is given) into a UTC timestamp array."""
    text = pc.replace_substring_regex(filled, r"^(\d{4}-\d{2}-\d{2}) ", r"\1T")
    naive = np.asarray(pc.match_substring_regex(filled, NAIVE_TIMESTAMP))
    date_only = np.asarray(pc.match_substring_regex(filled, r"^\d{4}-\d{2}-\d{2}$"))
    text = pc.if_else(
        pa.array(date_only), pc.binary_join_element_wise(text, "T00:00:00Z", ""), text
    )
    text = pc.if_else(
        pa.array(naive & ~date_only), pc.binary_join_element_wise(text, "Z", ""), text
    )
    text = pc.if_else(pa.array(blank), pa.scalar("1970-01-01T00:00:00Z"), text)
    target = pa.timestamp("us", tz="UTC")
    try:
        parsed = text.cast(target)
        bad = np.zeros(len(text), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Only on the error path: find which values do not parse.
        values = []
        bad = np.zeros(len(text), dtype=bool)
        for index, item in enumerate(text.to_pylist()):
            try:
                values.append(pa.array([item]).cast(target)[0].as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                values.append(None)
                bad[index] = True
        parsed = pa.array(values, type=target)
    if blank.any():
        parsed = pc.if_else(pa.array(blank), pa.scalar(None, target), parsed)
    return parsed, bad
