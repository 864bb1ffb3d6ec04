"""Walks every route of the app: none is reachable without a key, or with the wrong role."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from endcap.app import create_app
from endcap.auth.guards import allowed_roles
from endcap.auth.middleware import PUBLIC
from endcap.auth.roles import Role
from tests.support.server import ServerProcess

APP = create_app()


def _routes() -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    for route in APP.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                yield method, route.path, handler


def _concrete(path: str) -> str:
    path = re.sub(r"\{[^}:]+:int\}", "1", path)
    return re.sub(r"\{[^}:]+:uuid\}", str(uuid.uuid4()), re.sub(r"\{[^}:]+:str\}", "x", path))


# Sorted so that every pytest-xdist worker collects the same parameters in the same order.
PROTECTED = sorted(
    ((m, p, h) for m, p, h in _routes() if not h.opt.get(PUBLIC)), key=lambda r: (r[1], r[0])
)
PUBLIC_ROUTES = sorted({p for _, p, h in _routes() if h.opt.get(PUBLIC)})


def test_every_protected_route_names_its_roles() -> None:
    assert PROTECTED, "the walk found no routes"
    for method, path, handler in PROTECTED:
        assert allowed_roles(handler), f"{method} {path} names no role, so it is closed to all"


def test_only_health_and_the_api_docs_are_public() -> None:
    assert all(p.startswith(("/health", "/schema")) for p in PUBLIC_ROUTES), PUBLIC_ROUTES


@pytest.mark.parametrize(
    ("method", "path", "handler"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED]
)
def test_route_needs_a_key_and_the_right_role(
    server: ServerProcess,
    keys_by_role: dict[Role, str],
    method: str,
    path: str,
    handler: HTTPRouteHandler,
) -> None:
    url = server.base_url + _concrete(path)

    anonymous = httpx.request(method, url, json={}, timeout=30)
    assert anonymous.status_code == 401, f"{method} {path} without a key"

    allowed = allowed_roles(handler)
    for role, key in keys_by_role.items():
        response = httpx.request(
            method, url, json={}, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        if role in allowed:
            assert response.status_code not in (401, 403), f"{role} refused on {method} {path}"
        else:
            assert response.status_code == 403, f"{role} reached {method} {path}"
            assert response.json()["type"] == "urn:endcap:problem:forbidden"


def test_options_answers_without_a_key_with_every_method_and_no_data(
    server: ServerProcess,
) -> None:
    """Litestar answers OPTIONS itself (a CORS preflight sends no key): 204, an ``Allow``
    header naming every method of the path (allow.py), no body."""
    for path in sorted({p for _, p, _ in PROTECTED}):
        response = httpx.request("OPTIONS", server.base_url + _concrete(path), timeout=30)
        methods = {m for m, p, _ in PROTECTED if p == path} | {"OPTIONS"}
        assert response.status_code == 204, f"OPTIONS {path}: {response.text}"
        assert methods <= set(response.headers["allow"].split(", ")), path
        assert response.content == b"", path
