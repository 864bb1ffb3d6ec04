"""Authenticates every request that is not marked public, from its API key."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from endcap.auth.service import authenticate
from endcap.config import Settings
from endcap.db.session import read_engine_from
from endcap.errors import AuthenticationError

STATE_SETTINGS = "settings"
PUBLIC = "public"  # route opt key: no key needed (health, OpenAPI)


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    return connection.headers.get("x-api-key") or None


class ApiKeyAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        key = presented_key(connection)
        if key is None:
            raise AuthenticationError(
                "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        settings: Settings = connection.app.state[STATE_SETTINGS]
        # A short read of its own: the request's transaction starts after
        # authentication, and a failed key never opens one.
        async with read_engine_from(connection.app.state).connect() as db:
            principal = await authenticate(db, key, settings.auth.key_prefix)
        return AuthenticationResult(user=principal, auth=principal.key_id)
