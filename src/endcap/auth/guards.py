"""The one guard on every route: the caller's role must be one the route names.

Routes declare ``opt={"roles": (...)}`` on the controller or handler. A route
that names no role and is not public is closed to everyone (fail closed); a
test walks every route to prove each one declares what it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from endcap.allow import OPTIONS_HANDLER
from endcap.auth.middleware import PUBLIC
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.errors import PermissionDeniedError

ROLES = "roles"


def roles(*allowed: Role) -> dict[str, object]:
    """The ``opt`` for a controller or handler open to ``allowed`` roles."""
    return {ROLES: frozenset(allowed)}


def allowed_roles(handler: BaseRouteHandler) -> frozenset[Role]:
    declared: Iterable[Role] = handler.opt.get(ROLES, ())
    return frozenset(declared)


async def authorize(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    # Async though it awaits nothing: Litestar runs a plain function guard in a worker
    # thread, a hand-off to another thread and back on every request (profile_booking).
    if handler.opt.get(PUBLIC) or _is_litestar_options(connection, handler):
        return
    allowed = allowed_roles(handler)
    principal = connection.user
    if not isinstance(principal, Principal) or principal.role not in allowed:
        raise PermissionDeniedError("this API key's role may not use this route")


def _is_litestar_options(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> bool:
    """Litestar's own answer to OPTIONS (no route defines one): 204 with the ``Allow``
    header, nothing else, so a CORS preflight needs no key. The authentication middleware
    lets OPTIONS through unauthenticated, so there is no principal to check."""
    return connection.scope.get("method") == "OPTIONS" and handler.handler_name == OPTIONS_HANDLER
