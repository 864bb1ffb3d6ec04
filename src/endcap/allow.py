"""The ``Allow`` header of Litestar's own answer to OPTIONS, made whole.

Litestar makes that answer when it first builds a path's route, from the methods known then;
a handler registered for the same path afterwards (a GET beside a POST, a PATCH beside a
GET) joins the route but not the header. This hook answers with every method the path has.
"""

from __future__ import annotations

import re

from litestar.datastructures import MutableScopeHeaders
from litestar.handlers import HTTPRouteHandler
from litestar.types import Message, Scope

OPTIONS_HANDLER = "options_handler"  # the name Litestar gives the handler it makes
_TYPES = re.compile(r":[^}]+}")


async def complete_allow(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: on the start of an OPTIONS answer made by Litestar, set
    ``Allow`` to every method of the matched path; in any ``Allow`` (a 405's too) that
    names GET, name HEAD as well (answered as the GET without its body, head.py)."""
    if message["type"] != "http.response.start":
        return
    if scope.get("method") == "OPTIONS":
        _every_method(message, scope)
    elif message["status"] != 405:  # only these two answers carry Allow
        return
    headers = MutableScopeHeaders.from_message(message)
    allow = headers.get("allow")
    if allow and "GET" in allow and "HEAD" not in allow:
        headers["allow"] = ", ".join(sorted({*allow.replace(" ", "").split(","), "HEAD"}))


def _every_method(message: Message, scope: Scope) -> None:
    handler = scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler) or handler.handler_name != OPTIONS_HANDLER:
        return
    template = scope.get("path_template", "")
    methods = {
        method
        for path, handlers in scope["app"].route_handler_method_map.items()
        if _TYPES.sub("}", path) == template  # the scope's template drops ":uuid" and the like
        for method in handlers
    }
    if methods:
        MutableScopeHeaders.from_message(message)["allow"] = ", ".join(sorted(methods))
