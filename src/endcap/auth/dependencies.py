"""Injected values every authenticated handler may ask for."""

from __future__ import annotations

from typing import Any

from litestar import Request

from endcap.auth.principal import Principal
from endcap.errors import AuthenticationError


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise AuthenticationError("this route needs an API key")
    return user
