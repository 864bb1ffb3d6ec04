"""Authenticates every request that is not marked public, from its API key."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from endcap.auth.key_cache import KeyCache
from endcap.auth.service import authenticate
from endcap.config import Settings
from endcap.db.request_connection import RequestConnection, engine_from, request_connection_of
from endcap.errors import AuthenticationError

STATE_SETTINGS = "settings"
STATE_KEY_CACHE = "key_cache"  # the process's KeyCache (None: keys are looked up every time)
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
        prefix = settings.auth.key_prefix
        cache: KeyCache | None = connection.app.state.get(STATE_KEY_CACHE)
        if cache is not None and (principal := cache.find(key, prefix)) is not None:
            return AuthenticationResult(user=principal, auth=principal.key_id)
        stamp = cache.stamp() if cache is not None else None
        # One statement in autocommit, before the request's transaction: a failed key never
        # opens one. On the request's connection, which its later statements reuse.
        shared = request_connection_of(connection.scope) or RequestConnection(
            engine_from(connection.app.state), body_read=False
        )
        try:
            principal = await shared.first_read(lambda db: authenticate(db, key, prefix))
        except BaseException:
            await shared.release()
            raise
        if not shared.body_read:  # the body is still to come: wait for it holding nothing
            await shared.release()
        if cache is not None:
            cache.remember(stamp, key, prefix, principal)
        return AuthenticationResult(user=principal, auth=principal.key_id)
