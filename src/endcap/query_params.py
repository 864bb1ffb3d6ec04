"""Query strings name each parameter once.

No route takes a list in its query string, and Litestar keeps the last of a repeated
scalar parameter: ``?level=brand&level=category`` filtered by category alone, and
``?limit=1&limit=2`` answered two. Asking twice is a mistake the caller should hear of.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request

from endcap.errors import InvalidRequestError


async def refuse_repeated_parameters(request: Request[Any, Any, Any]) -> None:
    """A ``before_request`` hook: InvalidRequestError (422) naming a parameter given twice."""
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
