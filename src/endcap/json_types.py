"""JSON's own types where pydantic's lax mode would convert others into them.

Litestar validates request bodies with ``strict=False``, which overrides a field's
``strict=True``: ``true`` would pass as the count 1, ``"2"`` as 2, and ``"yes"`` as true.
These run before pydantic converts anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo, field_validator

from endcap.db.types import EARLIEST, LATEST


# ValueError, not TypeError: pydantic turns only the former into a validation error.
def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        message = "must be a whole number (a JSON number, not a string or a boolean)"
        raise ValueError(message)  # noqa: TRY004
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number (a JSON number, not a string or a boolean)")  # noqa: TRY004
    return value


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")  # noqa: TRY004
    return value


JSON_INTEGER = BeforeValidator(_integer)
JSON_NUMBER = BeforeValidator(_number)
JSON_BOOLEAN = BeforeValidator(_boolean)


def null_refused_but(clearable: str) -> Any:
    """For an update's model: a field validator refusing null for every field but
    ``clearable`` (whose null clears it). Left out, a field keeps its value; null would
    otherwise pass as "left out" and the client believe it cleared something."""

    def check(cls: type, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name != clearable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    return field_validator("*", mode="before")(classmethod(check))


def _in_calendar(value: datetime) -> datetime:
    """Refuse a time before EARLIEST, or one that UTC carries out of the calendar (later
    ones are for the caller to refuse as in the future: that names the real fault)."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (
        OverflowError
    ):  # 0001-01-01T00:00+14:00 is in year 0 in UTC, 9999-12-31T23:00-12:00 in 10000
        if value.year >= LATEST.year:
            raise ValueError("in the future (beyond the year 9999 in UTC)") from None
        utc = None
    if utc is None or utc < EARLIEST:
        raise ValueError(f"out of range: from {EARLIEST.year} on, in UTC")
    return value


# A time a record carries (when a shopper decided): from EARLIEST on, and in the calendar.
RecordedTime = Annotated[datetime, AfterValidator(_in_calendar)]
