"""HEAD on every GET route: the GET's status and headers, without its body (RFC 9110 9.3.2).

Litestar routes HEAD only to handlers declared for it, so HEAD answered 405 wherever GET
works. Wrapping the app's ASGI handler, before routing, runs a HEAD as the GET it asks
about (authentication, guards and all) and drops the body; the Content-Length stays the
GET's, as the RFC asks. Allow names HEAD beside GET (allow.py).
"""

from __future__ import annotations

from typing import cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send


def answer_head_as_get(app: ASGIApp) -> ASGIApp:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "HEAD":
            await app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = cast("HTTPScope", {**scope, "method": "GET"})
        await app(as_get, receive, without_body)

    return handle
