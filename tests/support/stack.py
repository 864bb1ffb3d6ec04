"""A module's own database, server and retailer admin key, for tests whose counts must not
see other modules' data."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
