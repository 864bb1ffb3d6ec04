"""Checks of every query string, before any route reads it (one ``before_request`` hook).

Each parameter is named once: no route takes a list in its query string, and Litestar
keeps the last of a repeated scalar parameter (``?level=brand&level=category`` filtered
by category alone, ``?limit=1&limit=2`` answered two). And no value holds a NUL: it
cannot be stored or compared as text on PostgreSQL (a 500 from a catalog filter).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.exceptions import ValidationException

from endcap.errors import InvalidRequestError
from endcap.request_checks import NUL, NUL_IN_TEXT


async def check_query(request: Request[Any, Any, Any]) -> None:
    """The app's ``before_request`` hook. A router, controller or handler with a hook of its
    own would replace it for its routes: none has one."""
    refuse_repeated_parameters(request)
    refuse_nul_in_query(request)


def refuse_repeated_parameters(request: Request[Any, Any, Any]) -> None:
    """InvalidRequestError (422) naming a parameter given twice."""
    raw: bytes = request.scope.get("query_string", b"")
    if b"&" not in raw:  # one parameter at most: the usual case
        return
    seen: set[str] = set()
    for key, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if key in seen:
            raise InvalidRequestError(
                f"query parameter {key!r} is given more than once: give it once",
                errors=[{"field": key, "source": "query", "message": "given more than once"}],
            )
        seen.add(key)


def refuse_nul_in_query(request: Request[Any, Any, Any]) -> None:
    """ValidationException (422) naming the parameters holding a NUL (``%00``)."""
    query = request.scope.get("query_string", b"")
    if b"%00" not in query:
        return
    names = sorted({name for name, value in parse_qsl(query.decode("latin-1")) if NUL in value})
    if names:
        raise ValidationException(
            "a query parameter holds NUL characters",
            extra=[{"key": name, "source": "query", "message": NUL_IN_TEXT} for name in names],
        )
