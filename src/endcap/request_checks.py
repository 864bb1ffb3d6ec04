"""What every request is checked for before a route reads it: text the database cannot
store, numbers too large to read and members given twice, each refused with a 422 naming
where it is.

PostgreSQL cannot hold a NUL character in text, and asyncpg fails the whole statement on
one (a 500), while SQLite takes it; so a NUL is refused on both, in any string or member
name of a JSON body and in any query parameter. Uploads (multipart) are not checked here:
their loaders refuse a NUL row by row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException, ValidationException

from endcap.json_members import REPEATED_MEMBER, repeated_members
from endcap.json_pointer import child

NUL = "\x00"
# JSON text can carry a NUL only as this escape (a raw one is malformed JSON): a body
# without it needs no walk. With it, it may still be an escaped backslash and "u0000".
NUL_ESCAPE = b"\\u0000"
NUL_IN_TEXT = "may not hold NUL characters"
NUL_IN_NAME = "a member name may not hold NUL characters"
TOO_LARGE = "the number is too large to read (a float beyond 1.8e308, or over 4300 digits)"
# How msgspec says a number could not be read: "Number out of range - at `$[...][0]`".
_OUT_OF_RANGE = re.compile(r"out of range - at `\$")


class CheckedRequest(Request[Any, Any, Any]):
    """The app's request: its JSON body is checked as it is decoded, whatever the route."""

    async def json(self) -> Any:
        try:
            document = await super().json()
        except SerializationException as error:
            if not _OUT_OF_RANGE.search(str(error)):
                raise
            located = _too_large(await self.body())
            if not located:
                raise  # the body is broken further on too; problems.py names what msgspec saw
            raise _refused([(pointer, TOO_LARGE) for pointer in located]) from error
        body = await self.body()
        # msgspec keeps the last of a member given twice, so which one a route got would
        # depend on the order the client wrote them in (json_members.py).
        found = [(pointer, REPEATED_MEMBER) for pointer in repeated_members(body, document)]
        if NUL_ESCAPE in body:
            found += _nul_pointers(document)
        if found:
            raise _refused(found)
        return document


def _refused(found: list[tuple[str, str]]) -> ValidationException:
    return ValidationException(
        "the request body cannot be read as it is",
        extra=[
            {"key": pointer, "source": "body", "message": message} for pointer, message in found
        ],
    )


def _nul_pointers(document: Any) -> Iterator[tuple[str, str]]:
    """JSON pointers to the strings and member names holding a NUL, with what is wrong."""
    for pointer, value, is_name in _walk(document):
        if isinstance(value, str) and NUL in value:
            yield pointer, NUL_IN_NAME if is_name else NUL_IN_TEXT


class _Unreadable:
    """Stands in for a number that msgspec could not read, in a body read again."""


def _too_large(body: bytes) -> list[str]:
    """JSON pointers to the numbers in ``body`` too large to read; [] when it cannot be read.

    msgspec names them by a path that leaves out member names (``$[...][1]``), so the body
    is read again with the standard library, which can be told to mark them instead.
    """
    unreadable = _Unreadable()

    def read_int(text: str) -> int | _Unreadable:
        try:
            return int(text)
        except ValueError:  # over sys.get_int_max_str_digits() digits, as msgspec's limit
            return unreadable

    def read_float(text: str) -> float | _Unreadable:
        value = float(text)
        return unreadable if math.isinf(value) else value

    try:
        reread = json.loads(body, parse_int=read_int, parse_float=read_float)
    except (ValueError, RecursionError):
        return []
    return [pointer for pointer, value, _ in _walk(reread) if value is unreadable]


def _walk(document: Any) -> Iterator[tuple[str, Any, bool]]:
    """(JSON pointer, value, whether it is a member name) for every value and member name in
    ``document``, in document order. A loop, not recursion: msgspec reads bodies nested as
    deeply as Python's recursion limit allows, which recursion here would then pass."""
    stack: list[tuple[str, Any, str | None]] = [("", document, None)]
    while stack:
        pointer, value, name = stack.pop()
        if name is not None:
            yield pointer, name, True
        yield pointer, value, False
        if isinstance(value, dict):
            members = [(child(pointer, str(k)), v, str(k)) for k, v in value.items()]
            stack.extend(reversed(members))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{pointer}/{i}", v, None) for i, v in enumerate(value)]))
