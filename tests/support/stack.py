"""A module's own database, server and retailer admin key, for tests whose counts must not
see other modules' data."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from endcap.auth.roles import Role
from endcap.config import DatabaseSettings
from tests.support import databases
from tests.support.keys import make_key
from tests.support.server import ServerProcess, start_server


@dataclass(frozen=True, slots=True)
class Stack:
    url: str
    server: ServerProcess
    admin_key: str


@contextmanager
def own_stack(backend: str, folders: pytest.TempPathFactory, name: str) -> Iterator[Stack]:
    """A migrated database ``endcap_test_<name>_…`` with a server (and its worker) on it."""
    with databases.migrated_database(
        backend, lambda: folders.mktemp(f"{name}-db"), f"endcap_test_{name}"
    ) as url:
        server = start_server(url, folders.mktemp(f"{name}-server"))
        try:
            key = asyncio.run(make_key(DatabaseSettings(url=url), Role.RETAILER_ADMIN))
            yield Stack(url, server, key)
        finally:
            server.stop()


def module_stack(name: str) -> tuple[Any, Any, Any]:
    """The module fixtures ``stack``, ``server`` and ``admin_key`` on a stack of the module's
    own (``own_stack``): ``stack, server, admin_key = module_stack("name")`` in the module
    overrides the session's, so ``admin`` reaches this module's server."""

    @pytest.fixture(scope="module")
    def stack(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
        with own_stack(backend, tmp_path_factory, name) as found:
            yield found

    @pytest.fixture(scope="module")
    def server(stack: Stack) -> ServerProcess:
        return stack.server

    @pytest.fixture(scope="module")
    def admin_key(stack: Stack) -> str:
        return stack.admin_key

    return stack, server, admin_key
