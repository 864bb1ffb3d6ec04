"""JSON's own types where pydantic's lax mode would convert others into them.

Litestar validates request bodies with ``strict=False``, which overrides a field's
``strict=True``: ``true`` would pass as the count 1, ``"2"`` as 2, and ``"yes"`` as true.
These run before pydantic converts anything.
"""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator, ValidationInfo, field_validator


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
