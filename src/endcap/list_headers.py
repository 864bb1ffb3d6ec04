"""Header fields that are lists, sent over several lines, read as one (RFC 9110 5.3).

``If-Match: "1"`` and ``If-Match: "2"`` on two lines mean ``If-Match: "1", "2"``; Litestar's
header parameters read the first line alone, so the second tag was never compared. They are
joined before anything reads them.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

LIST_HEADERS = frozenset({b"if-match"})


def join_list_headers(app: ASGIApp) -> ASGIApp:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            headers = list(scope["headers"])
            repeated = [name for name, _ in headers if name in LIST_HEADERS]
            if len(repeated) > len(set(repeated)):
                scope["headers"] = _joined(headers)
        await app(scope, receive, send)

    return handle


def _joined(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    values: dict[bytes, list[bytes]] = {}
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name in LIST_HEADERS:
            if name not in values:
                values[name] = []
                kept.append((name, b""))  # its place, filled below
            values[name].append(value)
        else:
            kept.append((name, value))
    return [(name, b", ".join(values[name]) if name in values else value) for name, value in kept]
